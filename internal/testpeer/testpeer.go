// Package testpeer holds what the tests' real peers share: the brokers,
// servers and registries that kafkatest, registrytest, pgtest, mqtttest and
// s3test start as processes of their own. It picks their ports and names
// the cache their downloads and builds are kept in.
//
// It is for tests only; the node must not import it.
package testpeer

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Port returns a free TCP port on 127.0.0.1 for a peer to listen on.
func Port(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Cache is where peers' jars and builds are kept between runs: $WEIR_CACHE,
// default ~/.cache/weir.
func Cache() (string, error) {
	if c := os.Getenv("WEIR_CACHE"); c != "" {
		return c, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "weir"), nil
}
