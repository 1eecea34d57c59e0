package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// SourceSpec declares the change-data-capture source.
var SourceSpec = &spec.Spec{
	Type:    "postgres",
	Summary: "Captures a PostgreSQL table's changes (logical replication, pgoutput): an initial snapshot, then every insert, update and delete, exactly once.",
	Doc: `Each change of ` + "`table`" + ` becomes one event of the stream: the row's columns
(the new row for inserts and updates; for deletes the old row's replica
identity — the primary key, or every column with ` + "`REPLICA IDENTITY FULL`" + `),
plus, when the stream's schema declares them, ` + "`_op`" + ` (` + "`r`" + ` snapshot read, ` + "`c`" + `
insert, ` + "`u`" + ` update, ` + "`d`" + ` delete), ` + "`_lsn`" + ` (the transaction's end in the WAL, text
like ` + "`0/16B3748`" + `) and ` + "`_commit_time`" + ` (the commit's timestamp; for snapshot rows,
the time of the snapshot — a good event-time column). Values are validated against the
schema like any event; a change that fails goes to the quarantine. An
unchanged TOASTed value (an update that did not touch a large column) is
absent.

The server needs ` + "`wal_level = logical`" + ` and a role with REPLICATION. On its first
start the source creates the publication (` + "`FOR TABLE`" + `) and a replication slot,
and reads the table's rows as of the slot's start (the snapshot, ` + "`_op: r`" + `),
then streams changes from that point. Changes are sent to the gate in whole
transactions, with the WAL position after them in the same log write, and the
slot is told the position only once it is durable: a restart, a crash or a
database restart resumes exactly after the last ingested transaction, and
Postgres keeps the WAL until then. An interrupted snapshot starts over (its
rows may then appear twice with ` + "`_op: r`" + `, as with Debezium); changes after it are
exactly once.

The slot holds WAL on the server while the source is stopped: drop it
(` + "`SELECT pg_drop_replication_slot('…')`" + `) for a source you remove.`,
	Fields: []spec.Field{
		{Name: "dsn", Kind: spec.String, Required: true, Doc: "a connection URL or keyword string; `${NAME}` is replaced from the environment. Never logged"},
		{Name: "table", Kind: spec.String, Required: true, Doc: "the table, optionally schema-qualified (`public.orders`)"},
		{Name: "slot", Kind: spec.String, Doc: "the replication slot; default `weir_<source name>`"},
		{Name: "publication", Kind: spec.String, Doc: "the publication (created for the table if missing); default `weir_<source name>`"},
		{Name: "snapshot", Kind: spec.Bool, Default: "true", Doc: "read the table's existing rows first"},
		{Name: "max_batch", Kind: spec.Int, Default: "5000", Min: 1, Max: 1_000_000, Doc: "changes per ingest batch at most (a transaction is never split)"},
	},
	Example: `sources:
  orders_cdc:
    type: postgres
    stream: order_changes
    dsn: postgres://weir:${PGPASSWORD}@db:5432/shop
    table: public.orders`,
}

func init() { connect.RegisterSource(SourceSpec, NewSource) }

// Source captures one table.
type Source struct {
	env         connect.Env
	dsn         string
	table       pgx.Identifier
	slot        string
	publication string
	snapshot    bool
	maxBatch    int
	durable     pglogrepl.LSN // the position durable in Weir
}

// NewSource checks the settings and builds the source.
func NewSource(v spec.Values, env connect.Env) (connect.Source, error) {
	s := &Source{env: env, dsn: os.ExpandEnv(v.String("dsn")), slot: v.String("slot"), publication: v.String("publication"),
		snapshot: v.Bool("snapshot"), maxBatch: int(v.Int("max_batch"))}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	s.table = pgx.Identifier(strings.Split(v.String("table"), "."))
	if len(s.table) > 2 || len(s.table) == 0 || s.table[0] == "" || s.table[len(s.table)-1] == "" {
		return nil, fmt.Errorf("source %s: table %q must be NAME or SCHEMA.NAME", env.Name, v.String("table"))
	}
	ident := strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, env.Name))
	if s.slot == "" {
		s.slot = "weir_" + ident
	}
	if s.publication == "" {
		s.publication = "weir_" + ident
	}
	if _, err := pgconn.ParseConfig(s.dsn); err != nil {
		return nil, fmt.Errorf("source %s: dsn does not parse (postgres://user:password@host:5432/database): %v", env.Name, redact(err))
	}
	s.env.Logger = s.env.Logger.With("source", env.Name, "table", s.table.Sanitize(), "slot", s.slot)
	return s, nil
}

// cdcPosition is what the source stores with every batch.
type cdcPosition struct {
	LSN      string `json:"lsn"`      // the end of the last ingested transaction (or the slot's start)
	Snapshot bool   `json:"snapshot"` // the initial snapshot is ingested
}

func (s *Source) key() []byte { return []byte(connect.PositionPrefix(s.env.Name) + "lsn") }

func (s *Source) put(lsn pglogrepl.LSN) wlog.Put {
	v, _ := json.Marshal(cdcPosition{LSN: lsn.String(), Snapshot: true})
	return wlog.Put{Key: s.key(), Value: v}
}

// Run captures until ctx ends; a failed session (the database away)
// starts again from the durable position.
func (s *Source) Run(ctx context.Context) error {
	return connect.RunSessions(ctx, "source "+s.env.Name, s.env.Logger, s.env.Metrics, s.session)
}

func (s *Source) stored() (cdcPosition, bool, error) {
	var p cdcPosition
	v, ok, err := s.env.Meta.Get(s.key())
	if err != nil || !ok {
		return p, false, err
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, false, fmt.Errorf("BUG: stored position %q: %v", v, err)
	}
	return p, true, nil
}

func (s *Source) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.dsn)
	cancel()
	if err != nil {
		return classify(err, "cannot connect")
	}
	defer conn.Close(context.Background())
	cfg, _ := pgconn.ParseConfig(s.dsn)
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	repl, err := pgconn.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return classify(err, "cannot open a replication connection (the role needs REPLICATION)")
	}
	defer repl.Close(context.Background())

	pos, ok, err := s.stored()
	if err != nil {
		return fmt.Errorf("%w: %v", connect.ErrFatal, err)
	}
	if !ok || !pos.Snapshot {
		if err := s.begin(ctx, conn, repl); err != nil {
			return err
		}
		if pos, _, err = s.stored(); err != nil {
			return fmt.Errorf("%w: %v", connect.ErrFatal, err)
		}
	}
	start, err := pglogrepl.ParseLSN(pos.LSN)
	if err != nil {
		return fmt.Errorf("%w: stored LSN %q: %v", connect.ErrFatal, pos.LSN, err)
	}
	s.durable = start
	err = pglogrepl.StartReplication(ctx, repl, s.slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.publication + "'"}})
	if err != nil {
		return classify(err, "cannot start replication from slot "+s.slot)
	}
	s.env.Logger.Info("postgres source streaming changes", "from", start)
	return s.stream(ctx, repl)
}

// begin sets up the publication and the slot, and ingests the snapshot
// (or just the slot's start) as the first position.
func (s *Source) begin(ctx context.Context, conn *pgx.Conn, repl *pgconn.PgConn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.publication).Scan(&exists); err != nil {
		return classify(err, "cannot read pg_publication")
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{s.publication}.Sanitize()+" FOR TABLE "+s.table.Sanitize()); err != nil {
			return classify(err, "cannot create publication "+s.publication)
		}
	}
	// A slot left by an interrupted snapshot: start over.
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", s.slot).Scan(&exists); err != nil {
		return classify(err, "cannot read pg_replication_slots")
	}
	if exists {
		s.env.Logger.Warn("postgres source: dropping the slot of an interrupted snapshot; the snapshot starts over")
		if err := pglogrepl.DropReplicationSlot(ctx, repl, s.slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
			return classify(err, "cannot drop slot "+s.slot)
		}
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return classify(err, "cannot create replication slot "+s.slot)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("slot %s start %q: %w", s.slot, res.ConsistentPoint, err)
	}
	if !s.snapshot {
		_, err := s.send(ctx, gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "postgres", Puts: []wlog.Put{s.put(lsn)}})
		return err
	}
	return s.readSnapshot(ctx, conn, res.SnapshotName, lsn)
}

// readSnapshot reads the table as of the slot's exported snapshot.
func (s *Source) readSnapshot(ctx context.Context, conn *pgx.Conn, name string, lsn pglogrepl.LSN) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return classify(err, "snapshot")
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+name+"'"); err != nil {
		return classify(err, "snapshot")
	}
	if _, err := tx.Exec(ctx, "SET LOCAL TimeZone = 'UTC'"); err != nil {
		return classify(err, "snapshot")
	}
	rows, err := tx.Query(ctx, "SELECT * FROM "+s.table.Sanitize(), pgx.QueryResultFormats{pgx.TextFormatCode}) // as pgoutput sends them
	if err != nil {
		return classify(err, "cannot read table "+s.table.Sanitize())
	}
	defer rows.Close()
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	meta := change{op: "r", lsn: lsn, commit: time.Now()} // snapshot rows: the time they were read
	var recs [][]byte
	total := 0
	flush := func(last bool) error {
		req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "postgres", Records: recs,
			Origin: func(i int) string { return fmt.Sprintf("%s snapshot row", s.table.Sanitize()) }}
		if last {
			req.Puts = []wlog.Put{s.put(lsn)}
		}
		_, err := s.send(ctx, req)
		recs = nil
		return err
	}
	for rows.Next() {
		raw := rows.RawValues()
		vals := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				t := string(b)
				vals[i] = &t
			}
		}
		recs = append(recs, s.record(meta, names, vals))
		total++
		if len(recs) >= s.maxBatch {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "snapshot")
	}
	if err := flush(true); err != nil {
		return err
	}
	s.env.Logger.Info("postgres source ingested the snapshot", "rows", total, "lsn", lsn)
	return nil
}

// change is what an event says about its change.
type change struct {
	op     string
	lsn    pglogrepl.LSN
	commit time.Time
}

// record builds one event: the row's columns the stream has, and the
// metadata columns it declares.
func (s *Source) record(c change, names []string, vals []*string) []byte {
	sc := s.env.Schema
	out := []byte{'{'}
	first := true
	member := func(name string) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = schema.AppendJSONString(out, name)
		out = append(out, ':')
	}
	for i, n := range names {
		ci := sc.ColumnIndex(n)
		if ci < 0 {
			if !sc.AdditionalProperties {
				continue // a column the stream does not keep
			}
		}
		if vals[i] == nil {
			member(n)
			out = append(out, "null"...)
			continue
		}
		member(n)
		typ := schema.String
		if ci >= 0 {
			typ = sc.Columns[ci].Type
		}
		out = appendPGValue(out, typ, *vals[i])
	}
	if sc.ColumnIndex("_op") >= 0 {
		member("_op")
		out = schema.AppendJSONString(out, c.op)
	}
	if sc.ColumnIndex("_lsn") >= 0 {
		member("_lsn")
		out = schema.AppendJSONString(out, c.lsn.String())
	}
	if sc.ColumnIndex("_commit_time") >= 0 && !c.commit.IsZero() {
		member("_commit_time")
		out = schema.AppendJSONString(out, c.commit.UTC().Format(time.RFC3339Nano))
	}
	return append(out, '}')
}

// appendPGValue writes a value in Postgres's text form as the JSON the
// column's decoder reads; what does not convert is written as a string,
// which the decoder rejects with the field's name.
func appendPGValue(dst []byte, typ schema.Type, v string) []byte {
	switch typ {
	case schema.Int64, schema.Float64:
		if schema.IsJSONNumber(v) {
			return append(dst, v...)
		}
	case schema.Bool:
		switch v {
		case "t":
			return append(dst, "true"...)
		case "f":
			return append(dst, "false"...)
		}
	case schema.Timestamp:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00:00"} {
			if t, err := time.Parse(layout, v); err == nil {
				return schema.AppendJSONString(dst, t.UTC().Format(time.RFC3339Nano))
			}
		}
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02"} { // no zone: UTC
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return schema.AppendJSONString(dst, t.Format(time.RFC3339Nano))
			}
		}
	}
	return schema.AppendJSONString(dst, v)
}

// stream reads changes until ctx ends or the connection fails.
func (s *Source) stream(ctx context.Context, repl *pgconn.PgConn) error {
	relations := map[uint32]*pglogrepl.RelationMessage{}
	type row struct {
		op    string
		names []string
		vals  []*string
	}
	var txnRows []row // the transaction being read
	var commitTime time.Time
	var pending [][]byte
	var pendingLSN pglogrepl.LSN
	status := time.Now()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		lsn := pendingLSN
		req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "postgres", Records: pending,
			Origin: func(int) string { return fmt.Sprintf("%s transaction ending at %s", s.table.Sanitize(), lsn) },
			Puts:   []wlog.Put{s.put(lsn)}}
		if _, err := s.send(ctx, req); err != nil {
			return err
		}
		pending = nil
		s.durable = lsn
		status = time.Time{} // tell the slot now
		return nil
	}
	for {
		if time.Since(status) > 5*time.Second {
			err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: s.durable, WALFlushPosition: s.durable, WALApplyPosition: s.durable})
			if err != nil {
				return fmt.Errorf("standby status update: %w", err)
			}
			status = time.Now()
		}
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		raw, err := repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				if err := flush(); err != nil { // quiet: send what is complete
					return err
				}
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return classify(pgconn.ErrorResponseToPgError(m), "replication")
		case *pgproto3.CopyData:
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return err
				}
				if pkm.ReplyRequested {
					status = time.Time{}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return err
				}
				msg, err := pglogrepl.Parse(xld.WALData)
				if err != nil {
					return fmt.Errorf("%w: pgoutput message: %v", connect.ErrFatal, err)
				}
				switch msg := msg.(type) {
				case *pglogrepl.RelationMessage:
					relations[msg.RelationID] = msg
				case *pglogrepl.BeginMessage:
					txnRows, commitTime = nil, msg.CommitTime
				case *pglogrepl.InsertMessage:
					names, vals, err := columns(relations[msg.RelationID], msg.Tuple)
					if err != nil {
						return err
					}
					txnRows = append(txnRows, row{"c", names, vals})
				case *pglogrepl.UpdateMessage:
					names, vals, err := columns(relations[msg.RelationID], msg.NewTuple)
					if err != nil {
						return err
					}
					txnRows = append(txnRows, row{"u", names, vals})
				case *pglogrepl.DeleteMessage:
					names, vals, err := columns(relations[msg.RelationID], msg.OldTuple)
					if err != nil {
						return err
					}
					txnRows = append(txnRows, row{"d", names, vals})
				case *pglogrepl.CommitMessage:
					end := msg.TransactionEndLSN
					if end <= s.durable || len(txnRows) == 0 {
						txnRows = nil
						break // ingested before the restart, or nothing of ours
					}
					// The events carry the transaction's end, known now.
					for _, r := range txnRows {
						pending = append(pending, s.record(change{op: r.op, lsn: end, commit: commitTime}, r.names, r.vals))
					}
					pendingLSN = end
					txnRows = nil
					if len(pending) >= s.maxBatch {
						if err := flush(); err != nil {
							return err
						}
					}
				}
			}
		}
	}
}

// columns reads a tuple's values in text form (nil: NULL); an unchanged
// TOASTed value, which pgoutput does not send, is left out.
func columns(rel *pglogrepl.RelationMessage, t *pglogrepl.TupleData) ([]string, []*string, error) {
	if rel == nil {
		return nil, nil, errors.New("pgoutput sent a change before its relation")
	}
	if t == nil {
		return nil, nil, nil
	}
	var names []string
	var vals []*string
	for i, col := range t.Columns {
		if i >= len(rel.Columns) {
			break
		}
		switch col.DataType {
		case 'n':
			names, vals = append(names, rel.Columns[i].Name), append(vals, nil)
		case 't':
			v := string(col.Data)
			names, vals = append(names, rel.Columns[i].Name), append(vals, &v)
		}
	}
	return names, vals, nil
}

// send ingests a request, holding it while the stream cannot take it.
func (s *Source) send(ctx context.Context, req gate.Request) (gate.Result, error) {
	return connect.Send(ctx, s.env, req)
}
