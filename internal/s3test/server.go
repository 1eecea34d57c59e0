// Package s3test starts a real S3-compatible server (MinIO) for tests, on
// a free 127.0.0.1 port with its data in a temporary directory. The binary
// is built from the Go module proxy by `make minio` (part of `make test`)
// into ~/.cache/weir/bin; $WEIR_MINIO names another one. MinIO runs as a
// separate process: none of its code is linked into Weir.
//
// This package is for tests only; it must not be imported by the node.
package s3test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/weirhq/weir/internal/testpeer"
)

// The server's root keys. Tests pass them to Weir through the standard
// environment variables.
const (
	AccessKey = "weirtest"
	SecretKey = "weirtest-secret"
)

// Server is a running MinIO.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Client   *minio.Client
	addr     string
	dir      string
	bin      string
	cmd      *exec.Cmd
	t        testing.TB
}

// Binary finds the MinIO binary, or says how to get one.
func Binary() (string, error) {
	if b := os.Getenv("WEIR_MINIO"); b != "" {
		return b, nil
	}
	home, _ := os.UserHomeDir()
	if b := filepath.Join(home, ".cache", "weir", "bin", "minio"); fileExists(b) {
		return b, nil
	}
	if b, err := exec.LookPath("minio"); err == nil {
		return b, nil
	}
	return "", fmt.Errorf("no MinIO binary: run `make minio` (make test does; it builds one from the Go module proxy into ~/.cache/weir/bin) or set $WEIR_MINIO")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Start starts a server, sets the AWS_* keys in the test's environment, and
// stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: fmt.Sprintf("127.0.0.1:%d", testpeer.Port(t)), dir: t.TempDir(), bin: bin, t: t}
	s.Endpoint = "http://" + s.addr
	s.Client, err = minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Restart starts the server (again, after Stop) on its data.
func (s *Server) Restart() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "minio.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.addr, "--console-address", "127.0.0.1:0", filepath.Join(s.dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(s.dir, "minio.log"))
			s.t.Fatalf("MinIO did not start within 30 s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Bucket makes a bucket.
func (s *Server) Bucket(name string) {
	s.t.Helper()
	if err := s.Client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		s.t.Fatal(err)
	}
}
