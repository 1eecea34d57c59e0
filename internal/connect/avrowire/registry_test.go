package avrowire

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hamba/avro/v2/registry"

	"github.com/weirhq/weir/internal/connect/avrowire/registrytest"
	"github.com/weirhq/weir/internal/schema"
)

// TestRegistryVersions: against a real registry with BACKWARD
// compatibility, each stream schema version registers once; adding an
// optional column is a new version, changing a column's type is refused
// with the registry's reason, as ErrRefused; and a Decoder reads values
// of every registered version.
func TestRegistryVersions(t *testing.T) {
	reg := registrytest.Start(t)
	compile := func(js string) *schema.Schema {
		sc, err := schema.Compile([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	v1 := compile(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":"integer"}}}`)
	v2 := compile(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":"integer"},"note":{"type":"string"}}}`)
	v3 := compile(`{"type":"object","required":["id"],"properties":{"id":{"type":"integer"},"n":{"type":"integer"}}}`)
	ctx := context.Background()
	r, err := NewRegistry(reg.URL, "orders-value", "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	e1, err := r.Encoder(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := registry.NewClient(reg.URL)
	if err := rc.SetCompatibilityLevel(ctx, "orders-value", "BACKWARD"); err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Encoder(ctx, v1); again != e1 {
		t.Fatal("the same schema version got a second encoder")
	}
	e2, err := r.Encoder(ctx, v2)
	if err != nil {
		t.Fatalf("adding an optional column: %v", err)
	}
	if e2.ID == e1.ID {
		t.Fatalf("v2 has v1's id %d", e1.ID)
	}
	if _, err := r.Encoder(ctx, v3); !errors.Is(err, ErrRefused) {
		t.Fatalf("a column changing type: %v, want ErrRefused", err)
	}
	d, err := NewDecoder(reg.URL, nil, v2.Columns)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    *Encoder
		vals []schema.Value
		want string
	}{
		{e1, []schema.Value{{Bytes: []byte("a")}, {Null: true}}, `{"id":"a"}`},
		{e2, []schema.Value{{Bytes: []byte("b")}, {Int: 7}, {Bytes: []byte("hi")}}, `{"id":"b","n":7,"note":"hi"}`},
	} {
		got, err := d.Append(ctx, nil, c.e.Append(nil, c.vals))
		if err != nil || string(got) != c.want {
			t.Errorf("schema id %d: %s, %v; want %s", c.e.ID, got, err, c.want)
		}
	}
	// An id the registry does not have is the record's fault; a wrong base
	// URL is not (it holds the partition, with a hint).
	var re *RecordError
	if _, err := d.Append(ctx, nil, []byte{0, 0, 0, 0x27, 0x0f, 0}); !errors.As(err, &re) || !strings.Contains(re.Reason, "names schema id 9999, which the schema registry") {
		t.Fatalf("unknown id: %v", err)
	}
	wrong, _ := NewDecoder(strings.TrimSuffix(reg.URL, "/apis/ccompat/v7"), nil, nil)
	if _, err := wrong.Append(ctx, nil, e1.Append(nil, []schema.Value{{Bytes: []byte("a")}, {Null: true}})); err == nil || errors.As(err, &re) {
		t.Fatalf("a registry URL without the API path: %v, want a transient error", err)
	}
	// Something else at the URL, answering 200 with a web page: the
	// source is held with a hint; nothing is quarantined.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Please sign in</body></html>"))
	}))
	defer page.Close()
	proxy, _ := NewDecoder(page.URL, nil, nil)
	if _, err := proxy.Append(ctx, nil, e1.Append(nil, []schema.Value{{Bytes: []byte("a")}, {Null: true}})); err == nil || errors.As(err, &re) ||
		!strings.Contains(err.Error(), `answered 200 with something that is not JSON (Content-Type "text/html", starting "<html>`) {
		t.Fatalf("a web page at the registry URL: %v, want a transient error saying it is not JSON", err)
	}
}
