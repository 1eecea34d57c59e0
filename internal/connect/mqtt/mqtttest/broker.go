// Package mqtttest starts a real Mosquitto broker for tests, on a free
// 127.0.0.1 port with persistence in a temporary directory and no limit on
// the messages it queues for a persistent session (Mosquitto's default of
// 1000 drops QoS 1 messages past it). The binary comes from the Debian
// package mosquitto (`make test` installs it).
package mqtttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/testpeer"
)

// Broker is a running Mosquitto.
type Broker struct {
	URL  string // mqtt://127.0.0.1:PORT
	Addr string
	bin  string
	dir  string
	conf string
	cmd  *exec.Cmd
	log  *os.File
	t    testing.TB
}

// Start starts a broker and stops it when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 != nil {
			t.Fatalf("no mosquitto: install it with `apt-get install mosquitto` (make test does): %v", err)
		}
		bin = "/usr/sbin/mosquitto"
	}
	b := &Broker{t: t, bin: bin, dir: t.TempDir()}
	port := testpeer.Port(t)
	b.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	b.URL = "mqtt://" + b.Addr
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 0
max_queued_bytes 0
user root
log_dest file %s/mosquitto.log
`, port, b.dir, b.dir)
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	b.Restart()
	return b
}

// Restart starts the broker (again, after Stop) on its persisted state.
func (b *Broker) Restart() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			b.t.Fatalf("mosquitto did not start within 10 s: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the broker cleanly (SIGTERM: it saves its persistent state).
func (b *Broker) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
			<-done
		}
		b.cmd = nil
	}
}
