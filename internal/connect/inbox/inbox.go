package inbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
)

// Spec declares the source's settings.
var Spec = &spec.Spec{
	Type:    "inbox",
	Summary: "Ingests files dropped into a directory (CSV, NDJSON, JSON, Parquet) once each, rejecting broken files whole.",
	Doc: `A file is taken when it appears under its final name: writers should write
a temporary name (a leading ` + "`.`" + `, or ending in ` + "`.tmp`, `.part`, `.partial`" + `) and rename it.
With ` + "`ready: stable`" + ` a file is taken once its size and modification time have not
changed for ` + "`stable_for`" + `, for writers that cannot rename.

Checks, in order. A file that fails one is moved to ` + "`rejected/`" + ` whole, with a
` + "`NAME.reason`" + ` note beside it, one quarantine record (rule ` + "`checksum`, `empty`,\n`truncated`, `header`, `corrupt` or `format`" + `; the first 64 KiB of the file as its raw bytes),
a log line, the ` + "`weir_source_files_total{outcome=\"rejected\"}`" + ` metric and, if
` + "`webhook`" + ` is set, a POST to it:

- **checksum**: if ` + "`NAME.sha256`" + ` is there (sha256sum format: ` + "`<hex>  NAME`" + `), the
  file's SHA-256 must match it. ` + "`checksum: required`" + ` waits up to ` + "`sidecar_wait`" + ` for it.
- **empty**: no bytes, or a header and no rows.
- **header** (CSV): the first line names the columns, in any order; every
  required column of the stream's schema must be there, and no column the
  schema does not have (unless it allows additional properties). With
  ` + "`header: false`" + ` the rows hold the schema's columns in order.
- **truncated**: a CSV or NDJSON file that does not end with a line break
  (unless ` + "`final_newline: false`" + `), a last CSV row with fewer fields than the
  header, a quoted field that never closes, a last NDJSON line that is not a
  whole JSON value, a JSON file that does not parse. A file cut exactly at a
  line break looks whole: deliver a ` + "`.sha256`" + ` sidecar to catch that too.

A sound file's rows are validated one by one like HTTP events: a bad value
quarantines that row (with the file and line, and the row as written), the
rest are accepted. A CSV row with the wrong number of fields in the middle of
a file is quarantined the same way. A UTF-8 BOM, CRLF line ends, and quoted
fields with commas, quotes or newlines are valid CSV. An empty CSV cell is an
absent value (null where the schema allows it), except in a required string
column, where it is the empty string.

Exactly once: each batch of rows is written to the log together with the
file's position, so after a crash the file resumes where the last batch
ended. A file whose content (SHA-256) was ingested before, under any name,
is not ingested again: it moves to ` + "`done/`" + ` and counts as ` + "`duplicate`" + `. Processed
files move to ` + "`done/`" + `. A file that cannot be read (a transient error) is retried
with exponential backoff and jitter, up to a minute apart.

**Object stores** (` + "`url: s3://BUCKET/PREFIX/`" + `): the same, with objects under the
prefix (not under deeper prefixes) as the files. An object appears whole
when its upload completes, so any name counts as final, unless it is a
temporary name as above. Each file is copied to a local temporary file to be
read, then moved by a server-side copy and a delete to ` + "`PREFIX/done/`" + ` or
` + "`PREFIX/rejected/`" + `, where the notes and reports go too. Only the version that
was read moves: a file replaced under the same name meanwhile stays in the
inbox and is taken again. The keys need ` + "`s3:ListBucket`" + ` on the bucket (listing
the prefix) and ` + "`s3:GetObject`, `s3:PutObject` and `s3:DeleteObject`" + ` on the
objects under it. Local copies are named ` + "`weir-inbox-<source>-*`" + `; those a crash
left behind are removed when the source starts.

JSON files (` + "`.json`" + `) hold one object or an array of objects; ` + "`.ndjson`" + ` and ` + "`.jsonl`" + `
one object per line.

**Snapshot feeds** (` + "`snapshot: true`" + `): each file replaces the previous one. The
stream's SQL table shows the rows of the last accepted file only — switching
to a new file at once, when its last batch is durable — and when a file is
rejected it keeps showing the last valid one. Beside each accepted file in
` + "`done/`" + ` a ` + "`NAME.diff.json`" + ` reports what changed against the previous snapshot: rows
added, removed, changed and unchanged (by the stream's key; up to 10 example
keys each), keys that appear twice, and columns added or removed. Diffing
holds the previous snapshot's keys in memory (about 60 bytes a row). The
log keeps the current snapshot and drops older ones once no sink or view
needs them; a lake sink on the stream (under another table name) keeps the
history. Nothing else may write to a snapshot stream.

Parquet files (` + "`.parquet`" + `) must be flat (no nested or repeated columns). Their
columns are checked like a CSV header, and their types too: strings feed
string columns; integers integer and number columns; floats, doubles and
decimals number columns; booleans boolean columns; TIMESTAMP (milli-, micro-,
nanoseconds), DATE, legacy INT96 and strings feed timestamp columns. Another
type rejects the file (rule ` + "`header`" + `), as does a file whose footer does not read
(` + "`truncated`" + `) or a page that does not decode (` + "`corrupt`" + `): every page is read once
before the first row is ingested. Nulls are absent values. A quarantined row's
origin is its row number.`,
	Fields: []spec.Field{
		{Name: "dir", Kind: spec.String, Default: "inbox", Doc: "the directory watched, relative to the pipeline directory; `done/` and `rejected/` are made inside it"},
		{Name: "url", Kind: spec.String, Doc: "watch an object-store prefix instead of a directory: `s3://BUCKET/PREFIX/` in an S3-compatible store (AWS S3, MinIO, …); `done/` and `rejected/` are prefixes under it"},
		{Name: "endpoint", Kind: spec.String, Default: "https://s3.amazonaws.com", Doc: "with `url`: the store's address, `https://HOST[:PORT]` (or `http://` to a loopback address, or anywhere with `insecure: true`)"},
		{Name: "region", Kind: spec.String, Doc: "with `url`: the bucket's region (empty: asked of the store)"},
		{Name: "access_key_env", Kind: spec.String, Default: "AWS_ACCESS_KEY_ID", Doc: "with `url`: the environment variable holding the access key; when it and `secret_key_env` are unset, `~/.aws/credentials` or the instance's role is used"},
		{Name: "secret_key_env", Kind: spec.String, Default: "AWS_SECRET_ACCESS_KEY", Doc: "with `url`: the environment variable holding the secret key (`$AWS_SESSION_TOKEN` is sent too when set)"},
		{Name: "path_style", Kind: spec.Bool, Default: "false", Doc: "with `url`: address the bucket as `ENDPOINT/BUCKET` rather than `BUCKET.ENDPOINT` (some stores need it; MinIO works either way)"},
		{Name: "insecure", Kind: spec.Bool, Default: "false", Doc: "with `url`: allow a plain-http endpoint on another host"},
		{Name: "spool_dir", Kind: spec.String, Doc: "with `url`: where the local copy of the file being read is kept, relative to the pipeline directory (empty: the system's temporary directory); it needs room for the largest file"},
		{Name: "pattern", Kind: spec.String, Default: "*", Doc: "a glob: only files whose names match are taken, e.g. `orders-*.csv`"},
		{Name: "format", Kind: spec.Enum, Enum: []string{"auto", "csv", "ndjson", "json", "parquet"}, Default: "auto",
			Doc: "how files are encoded; `auto` goes by the extension: `.csv`, `.tsv`, `.ndjson`, `.jsonl`, `.json`, `.parquet`"},
		{Name: "ready", Kind: spec.Enum, Enum: []string{"rename", "stable"}, Default: "rename",
			Doc: "when a file counts as delivered: as soon as it has its final name, or once its size is stable too"},
		{Name: "stable_for", Kind: spec.Duration, Default: "5s", Doc: "with `ready: stable`: how long size and modification time must not change"},
		{Name: "checksum", Kind: spec.Enum, Enum: []string{"auto", "required"}, Default: "auto",
			Doc: "`auto`: check `NAME.sha256` when it is there; `required`: a file without one is rejected after `sidecar_wait`"},
		{Name: "sidecar_wait", Kind: spec.Duration, Default: "1m", Doc: "with `checksum: required`: how long to wait for the sidecar"},
		{Name: "final_newline", Kind: spec.Bool, Default: "true", Doc: "CSV and NDJSON: a file must end with a line break, or it is rejected as truncated; `false` for writers that omit it (then only a short last row, an open quote or a cut JSON line shows a truncation)"},
		{Name: "header", Kind: spec.Bool, Default: "true", Doc: "CSV: the first line names the columns"},
		{Name: "delimiter", Kind: spec.String, Default: ",", Doc: "CSV: the field separator, one character (`\\t` for tab; `.tsv` files use tab)"},
		{Name: "max_batch", Kind: spec.Int, Default: "5000", Min: 1, Max: 1_000_000, Doc: "rows per ingest batch at most"},
		{Name: "poll", Kind: spec.Duration, Default: "1s", Doc: "how often the directory is listed"},
		{Name: "snapshot", Kind: spec.Bool, Default: "false", Doc: "each file is a full snapshot (a daily full export): the stream's table shows the last accepted file's rows only, keeps showing them when a newer file is rejected, and a diff against the previous snapshot is written to `done/NAME.diff.json`"},
		{Name: "webhook", Kind: spec.String, Doc: "a URL to POST a JSON alert to for every rejected file (retried 3 times)"},
	},
	Example: `sources:
  orders_drop:
    type: inbox
    stream: orders
    dir: inbox              # examples/legacy-csv/inbox
    pattern: "*.csv"
    checksum: auto          # orders.csv.sha256 checked when present`,
}

func init() { connect.RegisterSource(Spec, New) }

// Source watches one directory.
type Source struct {
	env          connect.Env
	store        store
	pattern      string
	format       string
	stable       bool
	stableFor    time.Duration
	needChecksum bool
	sidecarWait  time.Duration
	header       bool
	finalNewline bool
	delimiter    rune
	maxBatch     int
	poll         time.Duration
	snapshot     bool
	webhook      string
	client       *http.Client

	seen    map[string]*candidate // files in the inbox, by name
	pending sync.WaitGroup        // webhook calls in flight
}

// candidate is a file the source has seen and not finished.
type candidate struct {
	size    int64
	mtime   time.Time
	since   time.Time // when size and mtime were last seen to change
	first   time.Time
	backoff time.Duration
	retryAt time.Time
}

// New checks the settings and builds the source.
func New(v spec.Values, env connect.Env) (connect.Source, error) {
	s := &Source{env: env, pattern: v.String("pattern"), format: v.String("format"),
		stable: v.String("ready") == "stable", stableFor: v.Duration("stable_for"),
		needChecksum: v.String("checksum") == "required", sidecarWait: v.Duration("sidecar_wait"),
		header: v.Bool("header"), finalNewline: v.Bool("final_newline"), maxBatch: int(v.Int("max_batch")), poll: v.Duration("poll"),
		snapshot: v.Bool("snapshot"), webhook: v.String("webhook"), client: &http.Client{Timeout: 10 * time.Second}, seen: map[string]*candidate{}}
	if env.Schema == nil {
		return nil, fmt.Errorf("BUG: source %s: no schema for stream %q", env.Name, env.Stream)
	}
	if s.snapshot && env.Ends == nil {
		return nil, fmt.Errorf("BUG: source %s: a snapshot feed needs Env.Ends", env.Name)
	}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	if u := v.String("url"); u != "" {
		if d := v.String("dir"); d != "inbox" {
			return nil, fmt.Errorf("source %s: set dir (a directory) or url (an object-store prefix), not both", env.Name)
		}
		spool := v.String("spool_dir")
		if spool != "" && !filepath.IsAbs(spool) {
			spool = filepath.Join(env.Dir, spool)
		}
		st, err := newS3Store(s3Config{source: env.Name, url: u, endpoint: v.String("endpoint"), region: v.String("region"),
			accessKeyEnv: v.String("access_key_env"), secretEnv: v.String("secret_key_env"), spool: spool,
			pathStyle: v.Bool("path_style"), allowInsecure: v.Bool("insecure")})
		if err != nil {
			return nil, fmt.Errorf("source %s: %v", env.Name, err)
		}
		s.store = st
	} else {
		dir := v.String("dir")
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(env.Dir, dir)
		}
		s.store = dirStore{dir}
	}
	s.env.Logger = s.env.Logger.With("source", env.Name, "inbox", s.store.where("", ""))
	if _, err := filepath.Match(s.pattern, "x"); err != nil {
		return nil, fmt.Errorf("source %s: pattern %q is not a valid glob: %v (e.g. \"*.csv\")", env.Name, s.pattern, err)
	}
	d := v.String("delimiter")
	if d == `\t` {
		d = "\t"
	}
	if r := []rune(d); len(r) != 1 || r[0] == '"' || r[0] == '\n' || r[0] == '\r' {
		return nil, fmt.Errorf("source %s: delimiter must be one character other than a quote or a line break, got %q", env.Name, v.String("delimiter"))
	}
	s.delimiter = []rune(d)[0]
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.webhook != "" && !strings.HasPrefix(s.webhook, "http://") && !strings.HasPrefix(s.webhook, "https://") {
		return nil, fmt.Errorf("source %s: webhook must be an http:// or https:// URL, got %q", env.Name, s.webhook)
	}
	return s, nil
}

// Run watches the directory until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	defer s.pending.Wait()
	// An inbox that cannot be used yet (a store that is down, a bucket
	// not made yet, a directory without permission) is retried: the
	// source comes up when it can.
	for backoff := time.Duration(0); ; {
		err := s.store.prepare(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		backoff = connect.Backoff(backoff, time.Second, time.Minute)
		s.retried()
		s.env.Logger.Warn("inbox source cannot use its inbox; retrying", "err", err, "retry_in", backoff)
		connect.Sleep(ctx, backoff)
	}
	s.env.Logger.Info("inbox source watching")
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		s.scan(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ignored reports whether a name is not (yet) a file to take: a temporary
// name, a sidecar, or a note of ours.
func ignored(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, suf := range []string{".tmp", ".part", ".partial", ".crdownload", ".filepart", ".sha256", ".reason"} {
		if strings.HasSuffix(strings.ToLower(name), suf) {
			return true
		}
	}
	return false
}

// scan lists the directory once and processes every file that is ready,
// oldest first.
func (s *Source) scan(ctx context.Context) {
	entries, err := s.store.list(ctx)
	if err != nil {
		s.retried()
		s.env.Logger.Warn("inbox source cannot list its inbox; retrying", "err", err)
		return
	}
	now := time.Now()
	type ready struct {
		name  string
		mtime time.Time
	}
	var todo []ready
	present := map[string]bool{}
	for _, e := range entries {
		name := e.name
		if ignored(name) {
			continue
		}
		if ok, _ := filepath.Match(s.pattern, name); !ok {
			continue
		}
		present[name] = true
		c := s.seen[name]
		if c == nil || c.size != e.size || !c.mtime.Equal(e.mtime) {
			if c == nil {
				c = &candidate{first: now}
				s.seen[name] = c
			}
			c.size, c.mtime, c.since = e.size, e.mtime, now
		}
		if s.stable && now.Sub(c.since) < s.stableFor {
			continue
		}
		if now.Before(c.retryAt) {
			continue
		}
		todo = append(todo, ready{name, c.mtime})
	}
	for name := range s.seen {
		if !present[name] {
			delete(s.seen, name)
		}
	}
	slices.SortFunc(todo, func(a, b ready) int {
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, r := range todo {
		if ctx.Err() != nil {
			return
		}
		c := s.seen[r.name]
		err := s.take(ctx, r.name, c)
		switch {
		case err == nil, errors.Is(err, errWaiting):
			if err == nil {
				delete(s.seen, r.name)
			}
		case ctx.Err() != nil:
			return
		default:
			c.backoff = min(max(2*c.backoff, time.Second), time.Minute)
			d := c.backoff/2 + rand.N(c.backoff/2+1)
			c.retryAt = time.Now().Add(d)
			s.retried()
			s.env.Logger.Warn("inbox source cannot process a file; retrying", "file", r.name, "err", err, "retry_in", d.Round(time.Millisecond))
		}
	}
}

func (s *Source) retried() {
	if s.env.Metrics != nil {
		s.env.Metrics.Retries.WithLabelValues(s.env.Name).Inc()
	}
}

func (s *Source) finished(outcome string) {
	if s.env.Metrics != nil {
		s.env.Metrics.Files.WithLabelValues(s.env.Name, outcome).Inc()
	}
}

// errWaiting: the file is not ready yet (its sidecar has not arrived).
var errWaiting = errors.New("waiting")

// position is what the metadata keeps of a file taken, under its hash.
type position struct {
	File  string `json:"file"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	State string `json:"state"` // "partial", "done", "rejected"
	Next  int64  `json:"next"`  // partial: where the next batch starts (byte offset, or element index of a JSON array)
	Line  int    `json:"line"`  // partial: the line number at Next
	Rows  int64  `json:"rows"`  // rows sent so far
	At    string `json:"at"`
	// Snapshot feeds: the stream's log ends before the file's first batch.
	Start []int64 `json:"start,omitempty"`
}

func (s *Source) key(hash string) []byte {
	return []byte(connect.PositionPrefix(s.env.Name) + "file/" + hash)
}

func (s *Source) put(hash string, p position) wlog.Put {
	p.At = time.Now().UTC().Format(time.RFC3339)
	v, _ := json.Marshal(p)
	return wlog.Put{Key: s.key(hash), Value: v}
}

// take processes one ready file. An error is transient: the file stays and
// is retried.
func (s *Source) take(ctx context.Context, name string, c *candidate) error {
	if s.needChecksum && time.Since(c.first) < s.sidecarWait {
		// Do not read (download) a file again and again while its
		// sidecar is awaited.
		if there, err := s.store.exists(ctx, "", name+".sha256"); err == nil && !there {
			return errWaiting
		}
	}
	f, info, release, err := s.store.fetch(ctx, "", name)
	if errors.Is(err, os.ErrNotExist) {
		return nil // moved away
	}
	if err != nil {
		return err
	}
	defer release()
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, info.size)); err != nil {
		return fmt.Errorf("cannot read %s: %w", s.store.where("", name), err)
	}
	hash := hex.EncodeToString(h.Sum(nil))
	me := position{File: name, Size: info.size, MTime: info.mtime.UnixNano()}

	v, found, err := s.env.Meta.Get(s.key(hash))
	if err != nil {
		return err
	}
	var stored position
	if found {
		if err := json.Unmarshal(v, &stored); err != nil {
			return fmt.Errorf("BUG: stored position of %s: %v", name, err)
		}
		sameFile := stored.File == name && stored.Size == me.Size && stored.MTime == me.MTime
		switch {
		case stored.State == "done" && sameFile: // taken; the move did not happen before a crash
			if cur, ok, err := s.current(); s.snapshot && err == nil && ok && cur.SHA256 == hash {
				s.report(ctx, cur, f, name)
			}
			return s.move(ctx, name, info.tag, "done", hash)
		case stored.State == "done":
			s.env.Logger.Warn("inbox source: this content was ingested before; not ingesting it again",
				"file", name, "ingested_as", stored.File, "ingested_at", stored.At, "sha256", hash)
			s.finished("duplicate")
			return s.move(ctx, name, info.tag, "done", hash)
		case stored.State == "rejected" && sameFile:
			return s.move(ctx, name, info.tag, "rejected", hash)
		}
	}

	reject := func(rule, reason string) error { return s.reject(ctx, f, info, hash, me, rule, reason) }

	if found && stored.State == "partial" {
		// Resume where the last batch ended (the same content, so the
		// same offsets, whatever its name now).
		me.State, me.Next, me.Line, me.Rows, me.Start = stored.State, stored.Next, stored.Line, stored.Rows, stored.Start
	} else {
		// A new file (or a rejected one delivered again): check it whole.
		sum, present, err := s.sidecar(ctx, name)
		switch {
		case err != nil:
			return reject("checksum", err.Error())
		case present && sum != hash:
			return reject("checksum", fmt.Sprintf("checksum mismatch: %s.sha256 says %s, the file's SHA-256 is %s (the file is damaged or incomplete; deliver it again)", name, sum, hash))
		case !present && s.needChecksum:
			if time.Since(c.first) < s.sidecarWait {
				return errWaiting
			}
			return reject("checksum", fmt.Sprintf("no %s.sha256 arrived within %s of the file (checksum: required): deliver the sidecar first, then the file", name, s.sidecarWait))
		}
	}
	r, err := s.reader(f, name, info.size)
	if err != nil {
		return reject("format", err.Error())
	}
	if me.State != "partial" {
		if p := r.check(); p != nil {
			if p.transient != nil {
				return p.transient
			}
			return reject(p.rule, p.reason)
		}
	}
	if s.snapshot && me.State != "partial" {
		if me.Start, err = s.env.Ends(); err != nil {
			return err
		}
	}
	if err := s.ingest(ctx, r, hash, me, f); err != nil {
		return err
	}
	s.finished("accepted")
	return s.move(ctx, name, info.tag, "done", hash)
}

// sidecar reads NAME.sha256 if it is there.
func (s *Source) sidecar(ctx context.Context, name string) (sum string, present bool, err error) {
	b, err := s.store.read(ctx, "", name+".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cannot read %s.sha256: %v", name, err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields[0]) != 64 {
		return "", true, fmt.Errorf("%s.sha256 is not in sha256sum format (`<64 hex digits>  %s`): %.80q", name, name, b)
	}
	if _, err := hex.DecodeString(fields[0]); err != nil {
		return "", true, fmt.Errorf("%s.sha256 is not in sha256sum format (`<64 hex digits>  %s`): %.80q", name, name, b)
	}
	return strings.ToLower(fields[0]), true, nil
}

// ingest sends the file's rows from its position on, a batch at a time,
// each with the position after it; the last one marks the file done.
func (s *Source) ingest(ctx context.Context, r fileReader, hash string, pos position, f *os.File) error {
	if err := r.seek(pos.Next, pos.Line); err != nil {
		return err
	}
	var acc, quar int
	for {
		b, err := r.batch(s.maxBatch)
		if err != nil {
			return err
		}
		pos.Rows += int64(len(b.req.Records) + len(b.req.Rejects))
		pos.Next, pos.Line, pos.State = b.next, b.line, "partial"
		if b.last && !s.snapshot { // a snapshot is done when it is published, below
			pos.State = "done"
		}
		b.req.Stream, b.req.Format, b.req.Source = s.env.Stream, gate.Records, "inbox"
		b.req.Puts = []wlog.Put{s.put(hash, pos)}
		res, err := s.send(ctx, b.req)
		if err != nil {
			return err
		}
		acc += res.Accepted
		quar += res.Quarantined
		if b.last {
			s.env.Logger.Info("inbox source ingested a file", "file", pos.File, "rows", pos.Rows, "accepted", acc, "quarantined", quar, "sha256", hash)
			if s.snapshot {
				return s.publish(ctx, hash, pos, f)
			}
			return nil
		}
	}
}

// send ingests one request, holding it while the stream cannot take it.
func (s *Source) send(ctx context.Context, req gate.Request) (gate.Result, error) {
	return connect.Send(ctx, s.env, req)
}

const rawLimit = 64 << 10 // bytes of a rejected file kept in its quarantine record

// reject quarantines a whole file and moves it to rejected/.
func (s *Source) reject(ctx context.Context, f *os.File, info object, hash string, me position, rule, reason string) error {
	name := info.name
	raw := make([]byte, rawLimit)
	n, err := f.ReadAt(raw, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cannot read %s: %w", name, err)
	}
	me.State = "rejected"
	moved, err := s.target(ctx, name, "rejected", hash)
	if err != nil {
		return err
	}
	full := fmt.Sprintf("file %s rejected: %s; moved to rejected/%s", name, reason, moved)
	serving := ""
	if s.snapshot {
		if cur, ok, err := s.current(); err == nil && ok {
			serving = cur.File
			full += fmt.Sprintf("; the table keeps serving the last valid snapshot, %s", cur.File)
		} else {
			full += "; the table has no valid snapshot yet"
		}
	}
	req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "inbox",
		Rejects: []gate.Reject{{Reason: full, Rule: rule, Raw: raw[:n], Origin: name}},
		Puts:    []wlog.Put{s.put(hash, me)}}
	if _, err := s.send(ctx, req); err != nil {
		return err
	}
	s.env.Logger.Warn("inbox source rejected a file", "file", name, "rule", rule, "reason", reason, "sha256", hash, "serving", serving)
	s.finished("rejected")
	note := fmt.Sprintf("%s\nrule: %s\nsha256: %s\nrejected at: %s\nsource: %s, stream: %s\n", full, rule, hash, time.Now().UTC().Format(time.RFC3339), s.env.Name, s.env.Stream)
	// The note and the alert go first: the file leaving the inbox is the
	// last step (a retry after a crash only moves it).
	if err := s.store.write(ctx, "rejected", moved+".reason", []byte(note)); err != nil {
		s.env.Logger.Warn("inbox source cannot write the rejection note", "file", name, "err", err)
	}
	s.alert(map[string]any{"source": s.env.Name, "stream": s.env.Stream, "file": name, "rule": rule, "reason": reason,
		"sha256": hash, "moved_to": s.store.where("rejected", moved), "serving_snapshot": serving, "at": time.Now().UTC().Format(time.RFC3339)})
	return s.move(ctx, name, info.tag, "rejected", hash)
}

// target picks the name a file gets in done/ or rejected/: its own, or,
// when an earlier file has it, the name plus a prefix of its hash (and a
// counter). It depends only on what is there, so after a crash the same
// file gets the same name.
func (s *Source) target(ctx context.Context, name, to, hash string) (string, error) {
	cand := name
	for i := 0; ; i++ {
		there, err := s.store.exists(ctx, to, cand)
		if err != nil {
			return "", err
		}
		if !there {
			return cand, nil
		}
		if same, err := s.store.same(ctx, name, to, cand); err != nil || same {
			return cand, err
		}
		cand = name + "." + hash[:12]
		if i > 0 {
			cand += "." + strconv.Itoa(i)
		}
	}
}

// move moves a file, then its sidecar, into done/ or rejected/, keeping
// an earlier file of the same name there.
//
// Only the version tag names moves (an object replaced in the bucket since
// it was read is left for the next scan, which reads it anew, with its
// sidecar: the sidecar moves only once the file it checked has).
func (s *Source) move(ctx context.Context, name, tag, to, hash string) error {
	// A shutdown must not split the move: with the file gone from the
	// inbox and its sidecar left there, a later file of the same name
	// would be checked against the stale sidecar. The move gets 30 s
	// after a shutdown to finish (an S3 copy of a big file takes a while
	// otherwise, with no limit).
	parent := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	defer context.AfterFunc(parent, func() { time.AfterFunc(30*time.Second, cancel) })()
	dst, err := s.target(ctx, name, to, hash)
	if err != nil {
		return fmt.Errorf("cannot move %s to %s/: %w", name, to, err)
	}
	err = s.store.move(ctx, name, tag, to, dst)
	if errors.Is(err, errChanged) {
		s.env.Logger.Info("inbox source: a file was replaced after it was read; the new one is left in the inbox to be taken", "file", name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot move %s to %s/: %w", name, to, err)
	}
	if there, _ := s.store.exists(ctx, "", name+".sha256"); there {
		if err := s.store.move(ctx, name+".sha256", "", to, dst+".sha256"); err != nil {
			s.env.Logger.Warn("inbox source cannot move a sidecar; a later file of the same name will be checked against it (delete it)", "file", s.store.where("", name+".sha256"), "err", err)
		}
	}
	return nil
}

// alert posts a rejection to the webhook, retrying 3 times, in the
// background.
func (s *Source) alert(body map[string]any) {
	if s.webhook == "" {
		return
	}
	b, _ := json.Marshal(body)
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		var err error
		for attempt := range 4 {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * time.Second)
			}
			var resp *http.Response
			resp, err = s.client.Post(s.webhook, "application/json", bytes.NewReader(b))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					return
				}
				err = fmt.Errorf("answered %s", resp.Status)
			}
		}
		s.env.Logger.Error("inbox source cannot deliver a rejection alert to its webhook", "webhook", s.webhook, "err", err)
	}()
}

// formatOf picks a file's format.
func (s *Source) formatOf(name string) (string, error) {
	if s.format != "auto" {
		return s.format, nil
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv":
		return "csv", nil
	case ".ndjson", ".jsonl":
		return "ndjson", nil
	case ".json":
		return "json", nil
	case ".parquet", ".pq":
		return "parquet", nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension (.csv, .tsv, .ndjson, .jsonl, .json, .parquet); name it so, or set format", name)
}

// reader opens a file's reader for its format.
func (s *Source) reader(f *os.File, name string, size int64) (fileReader, error) {
	format, err := s.formatOf(name)
	if err != nil {
		return nil, err
	}
	switch format {
	case "csv":
		delim := s.delimiter
		if s.format == "auto" && strings.EqualFold(filepath.Ext(name), ".tsv") {
			delim = '\t'
		}
		return newCSV(f, name, size, s.env.Schema, s.header, s.finalNewline, delim), nil
	case "ndjson":
		return newNDJSON(f, name, size, s.finalNewline), nil
	case "parquet":
		return newParquet(f, name, size, s.env.Schema), nil
	default:
		return newJSON(f, name, size)
	}
}

// fileReader reads one file's rows.
type fileReader interface {
	// check reads the whole file for structural problems.
	check() *problem
	// seek positions the reader at a batch boundary (0, 0: the start).
	seek(next int64, line int) error
	// batch reads up to n rows.
	batch(n int) (batch, error)
	// columns names the file's columns (after seek; nil when the format
	// has no fixed columns).
	columns() []string
}

// problem is why a file is rejected whole, or a transient read error.
type problem struct {
	rule, reason string
	transient    error
}

// batch is a request's worth of rows and the position after them.
type batch struct {
	req  gate.Request
	next int64
	line int
	last bool
}
