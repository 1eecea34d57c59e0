// Package kafkatest starts a real Apache Kafka broker (KRaft mode, one node)
// for tests: the jars come from Maven Central through mvn, cached under
// $WEIR_CACHE (default ~/.cache/weir), and run on the machine's JDK.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/testpeer"
)

// Version is the Kafka release the tests run.
const Version = "4.1.1"

const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>` + Version + `</version>
    </dependency>
  </dependencies>
</project>
`

// Jars returns the directory of the broker's jars, fetching them with
// Maven the first time.
func Jars() (string, error) {
	cache, err := testpeer.Cache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "kafka-"+Version)
	libs := filepath.Join(dir, "libs")
	if _, err := os.Stat(filepath.Join(libs, "kafka_2.13-"+Version+".jar")); err == nil {
		return libs, nil
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not installed; the Kafka tests run a real broker on the JDK (apt-get install openjdk-17-jre-headless maven)", tool)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), []byte(pom), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command("mvn", "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs.tmp", "-DincludeScope=runtime")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot fetch Kafka %s from Maven Central: %v\n%s", Version, err, out)
	}
	if err := os.Rename(filepath.Join(dir, "libs.tmp"), libs); err != nil {
		return "", err
	}
	return libs, nil
}

// Broker is a running single-node Kafka.
type Broker struct {
	Addr  string // bootstrap host:port
	t     testing.TB
	dir   string
	props string
	libs  string
	cmd   *exec.Cmd
	log   *os.File
}

func freePort(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", testpeer.Port(t)) }

// Start formats a data directory and starts a broker; it is stopped when
// the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	libs, err := Jars()
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{t: t, dir: t.TempDir(), libs: libs, Addr: freePort(t)}
	ctrl := freePort(t)
	b.props = filepath.Join(b.dir, "server.properties")
	props := strings.Join([]string{
		"process.roles=broker,controller",
		"node.id=1",
		"controller.quorum.voters=1@" + ctrl,
		"listeners=PLAINTEXT://" + b.Addr + ",CONTROLLER://" + ctrl,
		"advertised.listeners=PLAINTEXT://" + b.Addr,
		"controller.listener.names=CONTROLLER",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs=" + filepath.Join(b.dir, "data"),
		"offsets.topic.replication.factor=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"num.partitions=1",
	}, "\n") + "\n"
	if err := os.WriteFile(b.props, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(libs, "*")
	format := exec.Command("java", "-cp", cp, "kafka.tools.StorageTool", "format", "-t", "Z1eDqX6qSJSj0TAeiGjQbA", "-c", b.props)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("cannot format the Kafka data directory: %v\n%s", err, out)
	}
	if b.log, err = os.Create(filepath.Join(b.dir, "broker.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(); b.log.Close() })
	b.Restart()
	return b
}

// Restart starts the broker again on the same data (after Stop).
func (b *Broker) Restart() {
	b.t.Helper()
	b.cmd = exec.Command("java", "-Xmx512m", "-cp", filepath.Join(b.libs, "*"), "kafka.Kafka", b.props)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		b.t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := cl.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Stop()
			b.t.Fatalf("Kafka did not start within 60 s: %v; see %s", err, b.log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the broker (SIGKILL: a crash, not a clean shutdown).
func (b *Broker) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
		b.cmd = nil
	}
}

// ReadCommitted reads a topic from its start to its last stable offset as
// a read_committed consumer: the records of committed transactions (and
// non-transactional ones), in order per partition.
func ReadCommitted(t testing.TB, addr, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.KeepControlRecords()) // markers take offsets: seeing them, the reader reaches the end
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A commit's markers reach the partitions a moment after the commit
	// returns: wait until the last stable offset is the high watermark (no
	// transaction open), so the last committed transaction is seen too.
	adm := kadm.NewClient(cl)
	want := map[int32]int64{}
	for {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		settled := true
		stable.Each(func(o kadm.ListedOffset) {
			want[o.Partition] = o.Offset
			if e, ok := ends.Lookup(topic, o.Partition); !ok || e.Offset != o.Offset {
				settled = false
			}
		})
		if settled || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := map[int32]int64{}
	var out []*kgo.Record
	for {
		done := true
		for p, e := range want {
			if got[p] < e {
				done = false
			}
		}
		if done {
			return out
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (at %v of %v)", topic, ctx.Err(), got, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
}
