// Package pgtest starts a real PostgreSQL server for tests: initdb into a
// temporary directory, postgres on a free 127.0.0.1 port with
// wal_level=logical (for change data capture), trust authentication. The
// server binaries come from the Debian package postgresql (`make test`
// installs it). As root, the server runs as the postgres user (set as the
// process's credentials, so the test owns the postmaster's pid), since
// PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/testpeer"
)

// Server is a running PostgreSQL.
type Server struct {
	DSN  string // postgres://weir@127.0.0.1:PORT/weir?sslmode=disable
	Port int
	dir  string
	cmd  *exec.Cmd
	args func() *exec.Cmd // the postgres command, to start again
	log  *os.File
	t    testing.TB
}

// binDir finds the server binaries of the newest installed PostgreSQL.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server found under /usr/lib/postgresql/*/bin: install it with `apt-get install postgresql` (make test does)")
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "weir-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	asUser := func(name string, args ...string) *exec.Cmd {
		return exec.Command(name, args...)
	}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user (the Debian package postgresql makes it): %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = func(name string, args ...string) *exec.Cmd {
			cmd := exec.Command(name, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			cmd.Env = append(os.Environ(), "HOME="+dir)
			return cmd
		}
	}
	initdb := asUser(filepath.Join(bin, "initdb"), "-D", data, "-U", "weir", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s := &Server{Port: testpeer.Port(t), dir: dir}
	if s.log, err = os.Create(filepath.Join(dir, "postgres.log")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		pg, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		os.Chown(s.log.Name(), uid, gid)
	}
	s.t = t
	s.args = func() *exec.Cmd {
		return asUser(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(s.Port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical", "-c", "max_wal_senders=10", "-c", "max_replication_slots=10",
			"-c", "fsync=off", "-c", "full_page_writes=off") // fsync off: a killed process loses nothing the OS has; synchronous_commit stays on
	}
	t.Cleanup(func() { s.Stop(); s.log.Close() })
	s.Restart()
	admin := fmt.Sprintf("postgres://weir@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err = conn.Exec(context.Background(), "CREATE DATABASE weir"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s
}

// Restart starts the server (again, after Stop) and waits until it takes
// connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.cmd = s.args()
	if s.cmd.SysProcAttr == nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	s.cmd.SysProcAttr.Setpgid = true // Stop kills the server's whole process group
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.DSN = fmt.Sprintf("postgres://weir@127.0.0.1:%d/weir?sslmode=disable", s.Port)
	admin := fmt.Sprintf("postgres://weir@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, admin)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log.Name())
			s.t.Fatalf("PostgreSQL did not start within 30 s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server: SIGKILL to the postmaster and every backend (a
// crash), and waits until all are gone. Killing the postmaster alone left
// backends that hold its shared memory for a moment, and a Restart in that
// moment failed ("pre-existing shared memory block is still in use").
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGKILL)
	s.cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline); {
		syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd = nil
}
