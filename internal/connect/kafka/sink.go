package kafka

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/avrowire"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/schema"
)

// SinkSpec declares the sink's settings.
var SinkSpec = &spec.Spec{
	Type:    "kafka",
	Summary: "Writes a stream to a Kafka topic, exactly once (Kafka transactions).",
	Doc: `Each accepted event of the stream becomes one record of the topic: its value
the event as JSON (the stream's columns, timestamps in RFC 3339 UTC), its key
the ` + "`key`" + ` columns (the stream's key by default; one column as its text, several
as a JSON array), headers ` + "`weir-stream`" + ` and ` + "`weir-offset`" + ` (` + "`<partition>/<offset>`" + ` in
Weir's log).

With ` + "`format: avro`" + ` the value is Avro in the Confluent wire format instead, which
Confluent's deserializers, ksqlDB, Kafka Connect and most tools read. Its schema
is derived from the stream's: a record named ` + "`record_name`" + ` with one field per
column (string, long, double, boolean; timestamps long with logical type
timestamp-micros; a column that may be null or absent a union with null first,
default null). It is registered under ` + "`subject`" + ` when the sink starts writing a
stream schema version, so a schema change of the stream registers a new
version, which the subject's compatibility level must allow (adding an
optional column is always allowed; the sink stops with the registry's message
if it is not). A registry that cannot be reached is retried.

Exactly once (` + "`delivery: exactly_once`" + `, the default): records go out in Kafka
transactions of up to ` + "`max_batch`" + ` records, and each transaction also writes the
sink's position in Weir's log to the compacted topic ` + "`positions_topic`" + ` (key: the
transactional id). A crash, a restart or a broker outage resumes from the
last committed transaction: consumers reading with ` + "`isolation.level=read_committed`" + `
see every event exactly once. On start the sink takes over its transactional
id, which aborts any transaction a previous instance left open; two running
sinks with the same id fence each other (the older one stops with an error).

` + "`delivery: at_least_once`" + ` uses no transactions (for clusters without them): the
position is written after the records are acknowledged, so a crash in
between sends the last batch again.

The output topic must exist (create it with the partitions you want); the
positions topic is created if missing (compacted, one partition). The log
keeps the stream's records until the sink has committed them, and the
stream's backlog (429 past ` + "`max_backlog`" + `) counts what the sink has not yet sent.`,
	Fields: []spec.Field{
		{Name: "brokers", Kind: spec.Strings, Required: true, Doc: "seed brokers, `host:port` (a list, or comma-separated)"},
		{Name: "topic", Kind: spec.String, Required: true, Doc: "the topic to write"},
		{Name: "key", Kind: spec.Strings, Doc: "columns whose values make the record key; default: the stream's key"},
		{Name: "delivery", Kind: spec.Enum, Enum: []string{"exactly_once", "at_least_once"}, Default: "exactly_once", Doc: "with transactions, or without"},
		{Name: "transactional_id", Kind: spec.String, Doc: "the Kafka transactional id, unique per sink and cluster; default `weir-<sink name>`"},
		{Name: "positions_topic", Kind: spec.String, Default: "weir-sink-positions", Doc: "the compacted topic where the sink keeps its position, in the same transaction as its records"},
		{Name: "max_batch", Kind: spec.Int, Default: "10000", Min: 1, Max: 1_000_000, Doc: "records per transaction at most"},
		{Name: "linger", Kind: spec.Duration, Default: "100ms", Doc: "how long to wait for more records before a transaction with fewer than max_batch"},
		{Name: "client_id", Kind: spec.String, Default: "weir", Doc: "the client id brokers see"},
		{Name: "format", Kind: spec.Enum, Enum: []string{"json", "avro"}, Default: "json", Doc: "how record values are encoded: JSON, or Avro in the Confluent wire format"},
		{Name: "schema_registry", Kind: spec.String, Doc: "with `format: avro`: the schema registry's base URL (Confluent's REST API), like `http://registry:8081`"},
		{Name: "subject", Kind: spec.String, Doc: "with `format: avro`: the registry subject the schemas are registered under; default `<topic>-value` (Confluent's topic name strategy)"},
		{Name: "record_name", Kind: spec.String, Doc: "with `format: avro`: the Avro record's name; default the stream's name"},
	},
	Example: `sinks:
  orders_to_kafka:
    type: kafka
    stream: orders
    brokers: [kafka-1:9092, kafka-2:9092]
    topic: orders-validated
  orders_to_kafka_avro:     # for consumers that read Avro with a registry
    type: kafka
    stream: orders
    brokers: [kafka-1:9092]
    topic: orders-avro
    format: avro
    schema_registry: http://registry:8081   # registers subject orders-avro-value`,
}

func init() { connect.RegisterSink(SinkSpec, NewSink) }

// Sink writes one stream to one topic.
type Sink struct {
	env       connect.SinkEnv
	brokers   []string
	topic     string
	key       []int
	exactly   bool
	txnID     string
	positions string
	maxBatch  int
	linger    time.Duration
	clientID  string
	avro      *avrowire.Registry // format: avro
	mu        sync.Mutex
	committed []int64
	// fenced: the last session ended with the producer fenced (an epoch
	// error). The next one checks that no other sink committed meanwhile.
	fenced bool
}

// errFenced marks a session whose producer lost its epoch: another sink
// took over the transactional id, or the transaction outlived its timeout
// (a long broker outage). The next session tells which.
var errFenced = errors.New("producer fenced")

// isFenced reports whether a Kafka error says the producer's epoch is gone.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidProducerIDMapping)
}

// NewSink checks the settings and builds the sink.
func NewSink(v spec.Values, env connect.SinkEnv) (connect.Sink, error) {
	s := &Sink{env: env, brokers: v.Strings("brokers"), topic: v.String("topic"), exactly: v.String("delivery") == "exactly_once",
		txnID: v.String("transactional_id"), positions: v.String("positions_topic"), maxBatch: int(v.Int("max_batch")),
		linger: v.Duration("linger"), clientID: v.String("client_id"), key: env.Key}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	s.env.Logger = s.env.Logger.With("sink", env.Name, "topic", s.topic)
	if s.txnID == "" {
		s.txnID = "weir-" + env.Name
	}
	if v.String("format") == "avro" {
		if v.String("schema_registry") == "" {
			return nil, fmt.Errorf("sink %s: format: avro needs schema_registry, the registry's URL (like http://registry:8081)", env.Name)
		}
		subject, name := v.String("subject"), v.String("record_name")
		if subject == "" {
			subject = s.topic + "-value"
		}
		if name == "" {
			name = cmp.Or(env.View, env.Stream)
		}
		if _, err := avrowire.SchemaFor(name, env.Schema); err != nil {
			return nil, fmt.Errorf("sink %s: %v", env.Name, err)
		}
		reg, err := avrowire.NewRegistry(v.String("schema_registry"), subject, name, nil)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %v", env.Name, err)
		}
		s.avro = reg
	}
	if cols := v.Strings("key"); len(cols) > 0 {
		s.key = nil
		for _, c := range cols {
			i := env.Schema.ColumnIndex(c)
			if i < 0 {
				return nil, fmt.Errorf("sink %s: key column %q is not in %s (columns: %s)", env.Name, c, env.What(), strings.Join(env.Schema.Names(), ", "))
			}
			s.key = append(s.key, i)
		}
	}
	if s.linger <= 0 {
		s.linger = 100 * time.Millisecond
	}
	return s, nil
}

// Committed returns the log offsets below which every record is in Kafka
// (committed); nil until the sink has read its position.
func (s *Sink) Committed() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed == nil {
		return nil
	}
	return slices.Clone(s.committed)
}

func (s *Sink) setCommitted(pos []int64) {
	s.mu.Lock()
	s.committed = slices.Clone(pos)
	s.mu.Unlock()
}

// Run writes until ctx ends. Every failure of a session (a broker gone, a
// transaction that did not commit) starts a new one, which reads the
// committed position again: an ambiguous commit is resolved by what Kafka
// says it holds.
func (s *Sink) Run(ctx context.Context) error {
	return connect.RunSessions(ctx, "sink "+s.env.Name, s.env.Logger, s.env.Metrics, s.session)
}

// position is what the positions topic holds for a sink.
type position struct {
	Stream  string  `json:"stream"`
	Offsets []int64 `json:"offsets"`
	At      string  `json:"at"`
}

func (s *Sink) session(ctx context.Context) error {
	opts := []kgo.Opt{kgo.SeedBrokers(s.brokers...), kgo.ClientID(s.clientID), kgo.ProducerBatchMaxBytes(4 << 20),
		kgo.RecordRetries(3), kgo.RequestRetries(3)}
	if s.exactly {
		opts = append(opts, kgo.TransactionalID(s.txnID), kgo.TransactionTimeout(60*time.Second))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("%w: cannot set up a Kafka client for brokers %v: %v (check sinks.%s.brokers)", connect.ErrFatal, s.brokers, err, s.env.Name)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := s.topics(ctx, adm); err != nil {
		return err
	}
	if s.exactly {
		// Taking over the transactional id aborts what a previous instance
		// left open, so the committed position below is final.
		if _, _, err := cl.ProducerID(ctx); err != nil {
			return fmt.Errorf("cannot initialise the transactional producer %q: %w", s.txnID, err)
		}
	}
	pos, err := s.recover(ctx)
	if err != nil {
		return err
	}
	if mine := s.Committed(); s.fenced && mine != nil {
		for p := range pos {
			if pos[p] > mine[p] {
				return fmt.Errorf("%w: another sink with transactional id %q committed after this one (its position %v, this one's %v): two sinks share the id; stop one, or give each its own transactional_id",
					connect.ErrFatal, s.txnID, pos, mine)
			}
		}
	}
	s.fenced = false
	s.setCommitted(pos)
	s.env.Logger.Info("kafka sink writing", "from", pos, "exactly_once", s.exactly)
	// Records go to the producer as they are read; the batch commits when
	// it is full or linger has passed since its first record.
	next := slices.Clone(pos)
	b := outBatch{fill: connect.Batch{Max: s.maxBatch, Linger: s.linger}}
	for {
		encErr, err := s.read(ctx, next, b.fill.Room(), func(r *kgo.Record) { s.produce(ctx, cl, &b, r) })
		if err != nil || encErr != nil {
			if b.open {
				abort(cl)
			}
			switch {
			case err != nil:
				return fmt.Errorf("%w: cannot read %s: %v", connect.ErrFatal, s.env.What(), err)
			case errors.Is(encErr, avrowire.ErrRefused):
				return fmt.Errorf("%w: %v", connect.ErrFatal, encErr)
			}
			return encErr
		}
		if !b.fill.Ready() {
			if err := b.fill.Wait(ctx, s.env); err != nil {
				if b.open {
					abort(cl)
				}
				return err
			}
			continue
		}
		if err := s.commit(ctx, cl, &b, next); err != nil {
			return err
		}
		s.setCommitted(next)
		if s.env.Metrics != nil && s.env.Metrics.SinkRecords != nil {
			s.env.Metrics.SinkRecords.WithLabelValues(s.env.Name).Add(float64(b.fill.N))
		}
		b = outBatch{fill: connect.Batch{Max: s.maxBatch, Linger: s.linger}}
	}
}

// outBatch is the transaction (at least once: the batch) being filled.
type outBatch struct {
	open bool
	fill connect.Batch
	mu   sync.Mutex
	err  error // the first produce error
}

func (b *outBatch) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

// produce sends one record, opening the batch (and its transaction) first.
func (s *Sink) produce(ctx context.Context, cl *kgo.Client, b *outBatch, r *kgo.Record) {
	if !b.open {
		b.open = true
		if s.exactly {
			if err := cl.BeginTransaction(); err != nil {
				b.fail(fmt.Errorf("begin transaction: %w", err))
			}
		}
	}
	b.fill.Add(1)
	cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			b.fail(err)
		}
	})
}

// topics checks the output topic and makes the positions topic if needed.
func (s *Sink) topics(ctx context.Context, adm *kadm.Client) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(lctx, s.topic, s.positions)
	if err != nil {
		return err
	}
	if td, ok := topics[s.topic]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist: create it with the partitions you want (the sink does not guess them)", s.topic)
	}
	if td, ok := topics[s.positions]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		seg, dirty := "600000", "0.1"
		policy := "compact"
		_, err := adm.CreateTopic(lctx, 1, -1, map[string]*string{"cleanup.policy": &policy, "segment.ms": &seg, "min.cleanable.dirty.ratio": &dirty}, s.positions)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("cannot create the positions topic %q: %w", s.positions, err)
		}
	}
	return nil
}

// recover reads the sink's last committed position from the positions
// topic (committed transactions only). With none, it starts at the log's
// first retained record.
func (s *Sink) recover(ctx context.Context) ([]int64, error) {
	pos, err := s.env.Starts()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(s.brokers...), kgo.ClientID(s.clientID),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.positions: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.KeepControlRecords()} // transaction markers take offsets: seeing them, the reader reaches the end
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(lctx, s.positions) // the last stable offset
	if err != nil {
		return nil, fmt.Errorf("cannot read the end of %q: %w", s.positions, err)
	}
	end, ok := ends.Lookup(s.positions, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("cannot read the end of %q: %v", s.positions, end.Err)
	}
	var found *position
	var read int64
	for read < end.Offset {
		fetches := cl.PollFetches(lctx)
		if lctx.Err() != nil {
			return nil, fmt.Errorf("reading %q: %w", s.positions, lctx.Err())
		}
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("reading %q: %w", s.positions, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			read = r.Offset + 1
			if r.Attrs.IsControl() || string(r.Key) != s.txnID {
				return
			}
			var p position
			if err := json.Unmarshal(r.Value, &p); err == nil {
				found = &p
			}
		})
	}
	if found == nil {
		return pos, nil
	}
	if found.Stream != s.env.Stream || len(found.Offsets) != s.env.Partitions {
		return nil, fmt.Errorf("%w: %q says transactional id %q wrote stream %q (%d partitions); this sink writes %q (%d): give it its own transactional_id",
			connect.ErrFatal, s.positions, s.txnID, found.Stream, len(found.Offsets), s.env.Stream, s.env.Partitions)
	}
	for p := range pos {
		pos[p] = max(pos[p], found.Offsets[p])
	}
	return pos, nil
}

// read emits up to limit records after next, advancing next past them.
// An Avro schema the registry does not take (or a registry that cannot be
// reached) stops the emission at that row and is returned as encErr: the
// session then ends, and the next one starts again from the committed
// position.
func (s *Sink) read(ctx context.Context, next []int64, limit int, emit func(*kgo.Record)) (encErr, err error) {
	streamHdr := []byte(s.env.Stream)
	_, err = connect.ReadRows(s.env, next, limit, func(p int, off int64, sc *schema.Schema, vals []schema.Value) {
		if encErr != nil {
			return
		}
		var value []byte
		if s.avro != nil {
			enc, err := s.avro.Encoder(ctx, sc)
			if err != nil {
				encErr = err
				return
			}
			value = enc.Append(nil, vals)
		} else {
			value = schema.AppendJSON(nil, sc.Columns, vals)
		}
		emit(&kgo.Record{Topic: s.topic, Key: s.recordKey(sc, vals), Value: value,
			Headers: []kgo.RecordHeader{{Key: "weir-stream", Value: streamHdr}, {Key: "weir-offset", Value: []byte(strconv.Itoa(p) + "/" + strconv.FormatInt(off, 10))}}})
	})
	return encErr, err
}

// recordKey renders the key columns: one string column as its text,
// another single column as its JSON value, several as a JSON array; no
// key columns: no key.
func (s *Sink) recordKey(sc *schema.Schema, vals []schema.Value) []byte {
	switch len(s.key) {
	case 0:
		return nil
	case 1:
		c, v := sc.Columns[s.key[0]], vals[s.key[0]]
		if c.Type == schema.String && !v.Null {
			return append([]byte(nil), v.Bytes...)
		}
		return schema.AppendJSONValue(nil, c, v)
	}
	out := []byte{'['}
	for i, k := range s.key {
		if i > 0 {
			out = append(out, ',')
		}
		out = schema.AppendJSONValue(out, sc.Columns[k], vals[k])
	}
	return append(out, ']')
}

// commit ends a batch with the position after it: in its transaction,
// or (at least once) after its records are acknowledged.
func (s *Sink) commit(ctx context.Context, cl *kgo.Client, b *outBatch, next []int64) error {
	pv, _ := json.Marshal(position{Stream: s.env.Stream, Offsets: next, At: time.Now().UTC().Format(time.RFC3339Nano)})
	posRec := &kgo.Record{Topic: s.positions, Partition: 0, Key: []byte(s.txnID), Value: pv}
	if !s.exactly {
		err := cl.Flush(ctx)
		if err == nil {
			b.mu.Lock()
			err = b.err
			b.mu.Unlock()
		}
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return cl.ProduceSync(ctx, posRec).FirstErr()
	}
	cl.Produce(ctx, posRec, func(_ *kgo.Record, err error) {
		if err != nil {
			b.fail(err)
		}
	})
	err := cl.Flush(ctx)
	b.mu.Lock()
	if err == nil {
		err = b.err
	}
	b.mu.Unlock()
	if err == nil {
		if err = cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
			return nil
		}
		err = fmt.Errorf("commit transaction: %w", err) // maybe committed: the next session reads what is
	}
	abort(cl)
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("%w: transactional id %q: %v (grant this client access to it, or set transactional_id)", connect.ErrFatal, s.txnID, err)
	case isFenced(err):
		s.fenced = true
		return fmt.Errorf("%w: %v", errFenced, err)
	}
	return err
}

// abort drops what a failed transaction buffered and aborts it, as far as
// the client still can; the session ends either way.
func abort(cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl.AbortBufferedRecords(ctx)
	cl.EndTransaction(ctx, kgo.TryAbort)
}
