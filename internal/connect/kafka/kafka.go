// Package kafka is the Kafka source: it reads a topic's partitions with
// franz-go and feeds a stream, exactly once. The offsets it has read up to
// are stored in Weir's log in the same batch as the records (see
// internal/connect), so after a crash it resumes from exactly there; Kafka
// consumer-group offsets are not used for that.
package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/avrowire"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Spec declares the source's settings.
var Spec = &spec.Spec{
	Type:    "kafka",
	Summary: "Reads a Kafka topic (any Kafka-compatible cluster) into a stream, exactly once.",
	Doc: `Each record's value is one event, validated against the stream's schema like
an HTTP event; a value that fails goes to the quarantine with the reason, its
original bytes and its origin (topic, partition and offset). Values are JSON,
or with ` + "`format: avro`" + ` Avro in the Confluent wire format (a zero byte, the
writer schema's id in ` + "`schema_registry`" + `, the binary record), as Confluent's
serializers and most Kafka tools write it. Each schema id is fetched from the
registry once it is first seen (and kept); the record's fields become the event's properties, by name:
unions take the branch's value, enums their symbol, timestamp and date
logical types RFC 3339 text, decimals JSON numbers, bytes and fixed base64
text. A value that is not in the wire format, names a schema id the registry
does not have (or that is not an Avro schema), or does not decode goes to the
quarantine as its original bytes (rule ` + "`format`" + ` or ` + "`schema`" + `). A value
that decodes but that the stream's schema refuses is quarantined as the JSON
it was read as, its origin naming the schema id, so that it can be replayed
once the schema is fixed. A null field is an absent property unless the
stream's column is nullable. A registry that cannot be reached (or answers
5xx, 429, 401, 403, 404 without saying the schema is missing, or 200 with
something that is not JSON: a wrong base URL) is retried and holds the source back, with a log line saying why. The source reads every partition of the topic,
including partitions added later (checked every 30 s).

The offsets read so far are stored in Weir's own log, in the same atomic batch
as the records they produced, so a crash or a restart resumes exactly where
the last acknowledged batch ended: no record is lost or ingested twice. ` + "`start`" + `
applies only to partitions with no stored offset (the first run, or a new
partition). For lag monitoring (` + "`kafka-consumer-groups.sh --describe`" + `, Burrow,
Grafana), the position is also committed to the consumer group ` + "`group`" + `
about once a second, after the records are durable in Weir; the group has
no members, and Weir does not resume from it. Weir's own metrics say the same:
` + "`weir_source_lag_records`" + ` (records in the topic not yet durable in Weir) and
` + "`weir_source_records_lost_total`" + ` (records Kafka's retention deleted before Weir
read them, also logged as an error — alert on it). A broker that goes away is retried with backoff; the source
catches up when it is back. When the stream's backlog is over its limit the
source waits instead of dropping.`,
	Fields: []spec.Field{
		{Name: "brokers", Kind: spec.Strings, Required: true, Doc: "seed brokers, `host:port` (a list, or comma-separated)"},
		{Name: "topic", Kind: spec.String, Required: true, Doc: "the topic to read"},
		{Name: "format", Kind: spec.Enum, Enum: []string{"json", "avro"}, Default: "json", Doc: "how record values are encoded: JSON, or Avro in the Confluent wire format"},
		{Name: "schema_registry", Kind: spec.String, Doc: "with `format: avro`: the schema registry's base URL (Confluent's REST API), like `http://registry:8081`"},
		{Name: "start", Kind: spec.Enum, Enum: []string{"earliest", "latest", "timestamp"}, Default: "earliest",
			Doc: "where to start reading a partition with no stored offset: its first record, its end, or the first record at or after `start_time`"},
		{Name: "start_time", Kind: spec.String, Doc: "with `start: timestamp`: an RFC 3339 time like `2026-12-01T00:00:00Z`"},
		{Name: "max_batch", Kind: spec.Int, Default: "5000", Min: 1, Max: 1_000_000, Doc: "records per ingest batch at most"},
		{Name: "client_id", Kind: spec.String, Default: "weir", Doc: "the client id brokers see"},
		{Name: "group", Kind: spec.String, Doc: "the consumer group the source reports its position to (about once a second), so lag tools see it; default `weir-<source name>`; `-` for none. Weir never reads it back: its own stored offsets decide where it resumes"},
	},
	Example: `sources:
  orders_from_kafka:
    type: kafka
    stream: orders
    brokers: [kafka-1:9092, kafka-2:9092]
    topic: orders
    start: earliest
  payments_from_kafka:      # Avro written by Confluent's serializers
    type: kafka
    stream: payments
    brokers: [kafka-1:9092]
    topic: payments
    format: avro
    schema_registry: http://registry:8081`,
}

func init() { connect.RegisterSource(Spec, New) }

// Source reads one topic.
type Source struct {
	env      connect.Env
	brokers  []string
	topic    string
	start    kgo.Offset
	maxBatch int
	clientID string
	group    string            // "" for none
	avro     *avrowire.Decoder // format: avro

	durable   map[int32]int64 // next offsets durable in Weir
	lostTo    map[int32]int64 // losses already reported, up to this offset
	reported  map[int32]int64 // what the group has
	reportdAt time.Time
}

// New checks the settings and builds the source.
func New(v spec.Values, env connect.Env) (connect.Source, error) {
	s := &Source{env: env, brokers: v.Strings("brokers"), topic: v.String("topic"), maxBatch: int(v.Int("max_batch")), clientID: v.String("client_id"),
		group: v.String("group"), durable: map[int32]int64{}, lostTo: map[int32]int64{}, reported: map[int32]int64{}}
	switch s.group {
	case "":
		s.group = "weir-" + env.Name
	case "-":
		s.group = ""
	}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	s.env.Logger = s.env.Logger.With("source", env.Name, "topic", s.topic)
	if v.String("format") == "avro" {
		if v.String("schema_registry") == "" {
			return nil, fmt.Errorf("source %s: format: avro needs schema_registry, the registry's URL (like http://registry:8081)", env.Name)
		}
		var cols []schema.Column
		if env.Schema != nil {
			cols = env.Schema.Columns
		}
		d, err := avrowire.NewDecoder(v.String("schema_registry"), nil, cols)
		if err != nil {
			return nil, fmt.Errorf("source %s: %v", env.Name, err)
		}
		s.avro = d
	}
	switch v.String("start") {
	case "earliest":
		s.start = kgo.NewOffset().AtStart()
	case "latest":
		s.start = kgo.NewOffset().AtEnd()
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, v.String("start_time"))
		if err != nil {
			return nil, fmt.Errorf("source %s: start: timestamp needs start_time as an RFC 3339 time like 2026-12-01T00:00:00Z, got %q", env.Name, v.String("start_time"))
		}
		s.start = kgo.NewOffset().AfterMilli(t.UnixMilli())
	}
	return s, nil
}

func (s *Source) key(partition int32) []byte {
	return []byte(connect.PositionPrefix(s.env.Name) + s.topic + "/" + strconv.Itoa(int(partition)))
}

// stored reads the next offset to read of every partition read before.
func (s *Source) stored() (map[int32]int64, error) {
	out := map[int32]int64{}
	prefix := []byte(connect.PositionPrefix(s.env.Name) + s.topic + "/")
	var bad error
	err := s.env.Meta.Scan(prefix, func(k, v []byte) bool {
		p, err1 := strconv.ParseInt(string(k[len(prefix):]), 10, 32)
		off, err2 := strconv.ParseInt(string(v), 10, 64)
		if err1 != nil || err2 != nil {
			bad = fmt.Errorf("BUG: stored offset %q = %q", k, v)
			return false
		}
		out[int32(p)] = off
		return true
	})
	if err == nil {
		err = bad
	}
	return out, err
}

// Run consumes until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	offsets, err := s.stored()
	if err != nil {
		return fmt.Errorf("source %s: cannot read its stored offsets: %w", s.env.Name, err)
	}
	for p, off := range offsets {
		s.durable[p] = off // durable in Weir since an earlier run
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.brokers...), kgo.ClientID(s.clientID),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("source %s: cannot set up a Kafka client for brokers %v: %w (check sources.%s.brokers: host:port of each)", s.env.Name, s.brokers, err, s.env.Name)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	consuming := map[int32]bool{}
	var nextCheck time.Time
	var backoff time.Duration
	for ctx.Err() == nil {
		if time.Now().After(nextCheck) {
			if err := s.addPartitions(ctx, adm, cl, offsets, consuming); err != nil {
				backoff = s.wait(ctx, backoff, "cannot list the topic's partitions; retrying", err)
				continue
			}
			nextCheck = time.Now().Add(30 * time.Second)
		}
		if len(consuming) == 0 {
			backoff = s.wait(ctx, backoff, "the topic has no partitions yet; retrying", nil)
			nextCheck = time.Time{}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollRecords(pctx, s.maxBatch)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		if fetchErr != nil {
			backoff = s.wait(ctx, backoff, "fetch failed; retrying", fetchErr)
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			s.report(ctx, adm, false) // what the last batches left unreported
			continue
		}
		if err := s.ingest(ctx, recs); err != nil {
			return err
		}
		backoff = 0
		s.report(ctx, adm, false)
	}
	s.report(context.Background(), adm, true)
	return nil
}

// addPartitions starts consuming partitions of the topic not consumed yet.
func (s *Source) addPartitions(ctx context.Context, adm *kadm.Client, cl *kgo.Client, offsets map[int32]int64, consuming map[int32]bool) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(lctx, s.topic)
	if err != nil {
		return err
	}
	td, ok := topics[s.topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist (create it, or check the topic setting)", s.topic)
	}
	if td.Err != nil {
		return td.Err
	}
	s.checkLost(lctx, adm, offsets)
	add := map[int32]kgo.Offset{}
	for p := range td.Partitions {
		if consuming[p] {
			continue
		}
		if off, ok := offsets[p]; ok {
			add[p] = kgo.NewOffset().At(off)
		} else {
			add[p] = s.start
		}
		consuming[p] = true
	}
	if len(add) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: add})
		s.env.Logger.Info("kafka source reading partitions", "partitions", len(consuming), "new", len(add))
	}
	return nil
}

// checkLost compares where each partition now starts with where Weir is:
// records Kafka deleted (retention, DeleteRecords) before Weir read them are
// lost upstream. Kafka then resumes at the partition's start; the source
// says how many were lost, in the log and weir_source_records_lost_total,
// instead of skipping them silently.
func (s *Source) checkLost(ctx context.Context, adm *kadm.Client, stored map[int32]int64) {
	starts, err := adm.ListStartOffsets(ctx, s.topic)
	if err != nil {
		return // checked again in 30 s
	}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		next, known := s.durable[o.Partition]
		if !known {
			next, known = stored[o.Partition]
		}
		from := max(next, s.lostTo[o.Partition])
		if !known || o.Offset <= from {
			return
		}
		s.lostTo[o.Partition] = o.Offset
		s.env.Logger.Error("kafka source: Kafka deleted records before Weir read them (topic retention or DeleteRecords); they are lost upstream",
			"partition", o.Partition, "from_offset", from, "to_offset", o.Offset, "records", o.Offset-from)
		if s.env.Metrics != nil && s.env.Metrics.Lost != nil {
			s.env.Metrics.Lost.WithLabelValues(s.env.Name).Add(float64(o.Offset - from))
		}
	})
}

// ingest writes one polled batch and the offsets after it, retrying while
// the gate is overloaded or the stream backlogged: the batch is held, not
// dropped, and Kafka waits.
func (s *Source) ingest(ctx context.Context, recs []*kgo.Record) error {
	origin := func(r *kgo.Record) string {
		return fmt.Sprintf("topic %s partition %d offset %d", r.Topic, r.Partition, r.Offset)
	}
	req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "kafka", Records: make([][]byte, len(recs)),
		Origin: func(i int) string { return origin(recs[i]) }}
	next := map[int32]int64{}
	for i, r := range recs {
		req.Records[i] = r.Value
		next[r.Partition] = r.Offset + 1
	}
	if s.avro != nil {
		var err error
		if req, err = s.decode(ctx, recs, req, origin); err != nil {
			return nil // ctx ended while the registry was away: read again after the restart
		}
	}
	for p, off := range next {
		req.Puts = append(req.Puts, wlog.Put{Key: s.key(p), Value: []byte(strconv.FormatInt(off, 10))})
	}
	_, err := connect.Send(ctx, s.env, req)
	if ctx.Err() != nil {
		return nil // maybe not written: read again after the restart
	}
	if err != nil {
		return fmt.Errorf("source %s: %w", s.env.Name, err)
	}
	for p, off := range next {
		s.durable[p] = off
	}
	return nil
}

// decode turns the Avro values of a batch into JSON records; those that do
// not decode become the request's rejects. While the registry cannot be
// reached it retries, holding the batch; it fails only when ctx ends.
func (s *Source) decode(ctx context.Context, recs []*kgo.Record, req gate.Request, origin func(*kgo.Record) string) (gate.Request, error) {
	size := 0
	for _, r := range recs {
		size += len(r.Value)
	}
	buf := make([]byte, 0, 2*size)    // JSON is about twice the Avro
	kept := make([]int, 0, len(recs)) // index in recs of each record kept
	req.Records = req.Records[:0]
	var backoff time.Duration
	for i := 0; i < len(recs); {
		start := len(buf)
		var err error
		buf, err = s.avro.Append(ctx, buf, recs[i].Value)
		var bad *avrowire.RecordError
		switch {
		case err == nil:
			req.Records = append(req.Records, buf[start:len(buf):len(buf)])
			kept = append(kept, i)
		case errors.As(err, &bad):
			req.Rejects = append(req.Rejects, gate.Reject{Reason: "Avro value " + bad.Reason, Rule: bad.Rule, Raw: recs[i].Value, Origin: origin(recs[i])})
		default:
			if backoff = s.wait(ctx, backoff, "cannot read an Avro schema from the registry; retrying", err); ctx.Err() != nil {
				return req, ctx.Err()
			}
			continue
		}
		i++
	}
	// A record the stream's schema refuses is quarantined as the JSON it
	// was read as, so that it can be replayed once the schema is fixed;
	// its origin names the writer schema.
	req.Origin = func(j int) string {
		v := recs[kept[j]].Value
		return fmt.Sprintf("%s (Avro, schema id %d)", origin(recs[kept[j]]), binary.BigEndian.Uint32(v[1:5]))
	}
	return req, nil
}

// report commits the durable offsets to the consumer group, at most once
// a second (or now, when final), for lag tools. A failure is only logged:
// Weir's own stored offsets are what it resumes from.
func (s *Source) report(ctx context.Context, adm *kadm.Client, final bool) {
	if !final && time.Since(s.reportdAt) < time.Second {
		return
	}
	s.reportdAt = time.Now()
	s.lag(ctx, adm)
	if s.group == "" {
		return
	}
	var offs kadm.Offsets
	for p, off := range s.durable {
		if s.reported[p] != off {
			offs.AddOffset(s.topic, p, off, -1)
		}
	}
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := adm.CommitOffsets(cctx, s.group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		s.env.Logger.Warn("kafka source cannot report its position to its consumer group (lag tools will lag; ingestion is unaffected)", "group", s.group, "err", err)
		return
	}
	offs.Each(func(o kadm.Offset) { s.reported[o.Partition] = o.At })
}

// lag sets weir_source_lag_records: the records Kafka holds past Weir's
// durable position, summed over the partitions read so far.
func (s *Source) lag(ctx context.Context, adm *kadm.Client) {
	if s.env.Metrics == nil || s.env.Metrics.Lag == nil || len(s.durable) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(cctx, s.topic)
	if err != nil {
		return
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if pos, ok := s.durable[o.Partition]; ok && o.Err == nil && o.Offset > pos {
			total += o.Offset - pos
		}
	})
	s.env.Metrics.Lag.WithLabelValues(s.env.Name).Set(float64(total))
}

// wait sleeps an exponential backoff with jitter (100 ms doubling to 10 s)
// and returns the next one.
func (s *Source) wait(ctx context.Context, d time.Duration, msg string, err error) time.Duration {
	d = min(max(2*d, 100*time.Millisecond), 10*time.Second)
	if err != nil && d >= time.Second {
		s.env.Logger.Warn("kafka source: "+msg, "err", err, "retry_in", d)
	}
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return d
}
