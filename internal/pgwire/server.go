package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	wire "github.com/jeroenrinzema/psql-wire"
	"github.com/jeroenrinzema/psql-wire/codes"
	pgerror "github.com/jeroenrinzema/psql-wire/errors"

	"github.com/weirhq/weir/internal/serve"
)

// Backend runs the statements clients send.
type Backend interface {
	// Describe says what a statement returns (columns and their DuckDB
	// types, parameter types) without running it. Errors wrapping
	// serve.ErrBadQuery are the statement's fault.
	Describe(ctx context.Context, sql string) (*serve.Description, error)
	// Run runs a statement. With st.Sink set, rows may arrive through it
	// instead of in the result (the server sets Native and Sink).
	Run(ctx context.Context, st serve.Statement) (*serve.Result, error)
}

// Options configure a Server.
type Options struct {
	Backend Backend
	// Password, when set, is asked of every client (Postgres cleartext
	// password authentication, any user name; configure TLS so it does not
	// cross the network in the clear). Empty: no authentication, for a
	// listener on loopback.
	Password string
	// TLS, when set, lets clients upgrade to TLS (sslmode=require).
	TLS    *tls.Config
	Logger *slog.Logger
}

// Server is a Postgres wire protocol listener.
type Server struct {
	o   Options
	srv *wire.Server

	mu       sync.Mutex
	sessions map[string]*session // by remote address
	byPID    map[int32]*session
}

// session is one client connection, for query cancellation.
type session struct {
	pid, secret int32
	addr        string
	mu          sync.Mutex
	cancel      context.CancelFunc // of the running statement
}

// New prepares a server; Serve runs it.
func New(o Options) (*Server, error) {
	if o.Backend == nil {
		return nil, errors.New("BUG: pgwire.New without a backend")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{o: o, sessions: map[string]*session{}, byPID: map[int32]*session{}}
	opts := []wire.OptionFn{
		wire.Logger(o.Logger.With("component", "pgwire")),
		wire.BackendKeyData(s.open),
		wire.CancelRequest(s.cancelRequest),
		wire.CloseConn(s.closeConn),
		wire.GlobalParameters(wire.Parameters{"DateStyle": "ISO, MDY", "TimeZone": "UTC",
			"integer_datetimes": "on", "standard_conforming_strings": "on"}),
	}
	if o.Password != "" {
		opts = append(opts, wire.SessionAuthStrategy(wire.ClearTextPassword(s.checkPassword)))
	}
	if o.TLS != nil {
		opts = append(opts, wire.TLSConfig(o.TLS))
	}
	srv, err := wire.NewServer(s.parse, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot set up the Postgres protocol server: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Close stops accepting connections and closes the open ones.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) checkPassword(ctx context.Context, database, user, password string) (context.Context, bool, error) {
	ok := subtle.ConstantTimeCompare([]byte(password), []byte(s.o.Password)) == 1
	if !ok {
		s.o.Logger.Warn("postgres client refused: wrong password", "user", user, "remote", addrOf(ctx))
	}
	return ctx, ok, nil
}

func addrOf(ctx context.Context) string {
	if a := wire.RemoteAddress(ctx); a != nil {
		return a.String()
	}
	return ""
}

// open registers a new connection and returns its cancellation key.
func (s *Server) open(ctx context.Context) (int32, int32) {
	var b [8]byte
	rand.Read(b[:])
	ss := &session{secret: int32(binary.LittleEndian.Uint32(b[4:])), addr: addrOf(ctx)}
	s.mu.Lock()
	defer s.mu.Unlock()
	pid := int32(binary.LittleEndian.Uint32(b[:4]) & 0x7fffffff)
	for s.byPID[pid] != nil || pid == 0 {
		pid++
		pid &= 0x7fffffff
	}
	ss.pid = pid
	s.byPID[pid] = ss
	s.sessions[ss.addr] = ss
	return pid, ss.secret
}

func (s *Server) closeConn(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[addrOf(ctx)]; ss != nil {
		delete(s.sessions, ss.addr)
		delete(s.byPID, ss.pid)
	}
	return nil
}

func (s *Server) cancelRequest(ctx context.Context, pid, secret int32) error {
	s.mu.Lock()
	ss := s.byPID[pid]
	s.mu.Unlock()
	if ss == nil || ss.secret != secret {
		return nil // Postgres ignores a cancel request it cannot match
	}
	ss.mu.Lock()
	if ss.cancel != nil {
		ss.cancel()
	}
	ss.mu.Unlock()
	return nil
}

// running derives the context of one statement, which a cancel request for
// the connection stops.
func (s *Server) running(ctx context.Context) (context.Context, func()) {
	s.mu.Lock()
	ss := s.sessions[addrOf(ctx)]
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	if ss == nil {
		return ctx, cancel
	}
	ss.mu.Lock()
	ss.cancel = cancel
	ss.mu.Unlock()
	return ctx, func() {
		ss.mu.Lock()
		ss.cancel = nil
		ss.mu.Unlock()
		cancel()
	}
}

// parse turns a query message into statements. A simple query may hold
// several; the extended protocol's Parse holds one.
func (s *Server) parse(ctx context.Context, q wire.Query) (wire.PreparedStatements, error) {
	texts := split(q.Query)
	if !q.SimpleQuery {
		switch len(texts) {
		case 0:
			return wire.Prepared(s.empty()), nil
		case 1:
		default:
			return nil, pgerror.WithCode(errors.New("cannot insert multiple commands into a prepared statement"), codes.Syntax)
		}
		st, err := s.prepare(ctx, texts[0], q.ParameterOIDs)
		if err != nil {
			return nil, err
		}
		return wire.Prepared(st), nil
	}
	if len(texts) == 1 {
		st, err := s.prepare(ctx, texts[0], nil)
		if err != nil {
			return nil, err
		}
		return wire.Prepared(st), nil
	}
	return s.script(ctx, texts), nil
}

// sessionStatement completes with tag and does nothing else.
func sessionStatement(tag string) *wire.PreparedStatement {
	return wire.NewStatement(func(ctx context.Context, w wire.DataWriter, _ []wire.Parameter) error {
		return w.Complete(tag)
	})
}

// columns describes result columns to the client by their DuckDB types.
func columns(names, duckTypes []string) wire.Columns {
	cols := make(wire.Columns, len(names))
	for i, name := range names {
		cols[i] = wire.Column{Name: name, Oid: oidOf(duckTypes[i]), Width: -1}
	}
	return cols
}

// unsupported refuses, with what to do instead, a statement Postgres
// clients send that Weir cannot serve over this protocol.
func unsupported(text string) error {
	if k := keywords(text, 1); len(k) == 1 && k[0] == "COPY" {
		return pgerror.WithCode(errors.New("COPY is not supported over the Postgres protocol yet: "+
			"export with psql --csv -c \"SELECT ...\" > file.csv, or weir query --format csv"), codes.FeatureNotSupported)
	}
	return nil
}

func (s *Server) empty() *wire.PreparedStatement {
	return wire.NewStatement(func(ctx context.Context, w wire.DataWriter, _ []wire.Parameter) error {
		return w.Empty()
	})
}

// prepare describes one statement and returns it ready to run, with its
// result columns and parameter types known.
func (s *Server) prepare(ctx context.Context, text string, paramOIDs []uint32) (*wire.PreparedStatement, error) {
	if tag := sessionTag(text); tag != "" {
		return sessionStatement(tag), nil
	}
	if err := unsupported(text); err != nil {
		return nil, err
	}
	d, err := s.o.Backend.Describe(ctx, text)
	if err != nil {
		return nil, s.pgError(err)
	}
	cols := columns(d.Columns, d.Types)
	params := make([]uint32, len(d.Params))
	for i, t := range d.Params {
		if i < len(paramOIDs) && paramOIDs[i] != 0 {
			params[i] = paramOIDs[i]
		} else {
			params[i] = oidOf(t)
		}
	}
	run := func(ctx context.Context, w wire.DataWriter, ps []wire.Parameter) error {
		ctx, done := s.running(ctx)
		defer done()
		args := make([]any, len(ps))
		for i, p := range ps {
			oid := uint32(0)
			if i < len(params) {
				oid = params[i]
			}
			v, err := p.Scan(oid)
			if err != nil {
				return pgerror.WithCode(fmt.Errorf("cannot read parameter $%d: %w", i+1, err), codes.InvalidTextRepresentation)
			}
			args[i] = argValue(v)
		}
		out := make([]any, len(cols))
		write := func(row []any) error {
			if len(row) != len(cols) {
				return fmt.Errorf("BUG: a row of %d columns for a statement described with %d", len(row), len(cols))
			}
			for i, v := range row {
				pv, err := pgValue(cols[i].Oid, v)
				if err != nil {
					return err
				}
				out[i] = pv
			}
			return w.Row(out)
		}
		res, err := s.o.Backend.Run(ctx, serve.Statement{SQL: text, Args: args, Native: true, Sink: write})
		if err != nil {
			return s.pgError(err)
		}
		for _, row := range res.Rows { // statements that do not stream (view DDL)
			if err := write(row); err != nil {
				return err
			}
		}
		return w.Complete(commandTag(text, int(w.Written())))
	}
	return wire.NewStatement(run, wire.WithColumns(cols), wire.WithParameters(params)), nil
}

// script runs the statements of a multi-statement simple query in order
// as it parses them (a later one may read what an earlier one created),
// stopping at the first error as Postgres does; their results are held
// in memory, and one past the backend's row limit is an error rather than
// a silent cut.
func (s *Server) script(ctx context.Context, texts []string) wire.PreparedStatements {
	var out wire.PreparedStatements
	for i, text := range texts {
		if tag := sessionTag(text); tag != "" {
			out = append(out, sessionStatement(tag))
			continue
		}
		var res *serve.Result
		err := unsupported(text)
		if err == nil {
			res, err = s.runAll(ctx, text)
		}
		if err == nil && res.Truncated {
			err = pgerror.WithCode(fmt.Errorf("statement %d of the query returned more than %d rows, which a multi-statement query holds in memory: "+
				"send it as a query of its own to stream every row", i+1, len(res.Rows)), codes.ProgramLimitExceeded)
		}
		if err != nil {
			out = append(out, wire.NewStatement(func(context.Context, wire.DataWriter, []wire.Parameter) error {
				return err
			}))
			return out
		}
		cols := columns(res.Columns, res.Types)
		out = append(out, wire.NewStatement(func(ctx context.Context, w wire.DataWriter, _ []wire.Parameter) error {
			for _, row := range res.Rows {
				if err := w.Row(row); err != nil {
					return err
				}
			}
			return w.Complete(commandTag(text, len(res.Rows)))
		}, wire.WithColumns(cols)))
	}
	return out
}

// runAll runs a statement and converts its rows for the wire.
func (s *Server) runAll(ctx context.Context, text string) (*serve.Result, error) {
	ctx, done := s.running(ctx)
	defer done()
	res, err := s.o.Backend.Run(ctx, serve.Statement{SQL: text, Native: true})
	if err != nil {
		return nil, s.pgError(err)
	}
	for _, row := range res.Rows {
		for i, v := range row {
			if row[i], err = pgValue(oidOf(res.Types[i]), v); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// pgError gives an error the SQLSTATE a Postgres client can act on.
func (s *Server) pgError(err error) error {
	msg := err.Error()
	code := codes.Internal
	switch {
	case errors.Is(err, serve.ErrTimeout), errors.Is(err, serve.ErrCanceled), errors.Is(err, context.Canceled):
		code = codes.QueryCanceled
	case errors.Is(err, serve.ErrBadQuery):
		msg = strings.TrimPrefix(msg, serve.ErrBadQuery.Error()+": ")
		code = queryErrorCode(msg)
	case errors.Is(err, serve.ErrBusy):
		code = codes.InsufficientResources
	default:
		s.o.Logger.Error("postgres query failed", "err", err)
	}
	return pgerror.WithCode(errors.New(msg), code)
}

// queryErrorCode reads the class of a DuckDB error from its message.
func queryErrorCode(msg string) codes.Code {
	switch {
	case strings.Contains(msg, "only read-only queries"):
		return codes.ReadOnlySQLTransaction
	case strings.HasPrefix(msg, "Parser Error"), strings.HasPrefix(msg, "syntax error"):
		return codes.Syntax
	case strings.HasPrefix(msg, "Catalog Error: Table with name"), strings.HasPrefix(msg, "Catalog Error: Table Function"):
		return codes.UndefinedTable
	case strings.HasPrefix(msg, "Catalog Error: Scalar Function"), strings.HasPrefix(msg, "Catalog Error: Aggregate Function"):
		return codes.UndefinedFunction
	case strings.HasPrefix(msg, "Catalog Error"):
		return codes.UndefinedObject
	case strings.HasPrefix(msg, "Binder Error: Referenced column"), strings.HasPrefix(msg, "Binder Error: Values list"):
		return codes.UndefinedColumn
	case strings.HasPrefix(msg, "Binder Error: No function matches"):
		return codes.UndefinedFunction
	case strings.HasPrefix(msg, "Conversion Error"):
		return codes.InvalidTextRepresentation
	case strings.HasPrefix(msg, "Out of Range Error"):
		return codes.NumericValueOutOfRange
	case strings.HasPrefix(msg, "Invalid Input Error"):
		return codes.InvalidParameterValue
	case strings.HasPrefix(msg, "Not implemented Error"):
		return codes.FeatureNotSupported
	case strings.HasPrefix(msg, "Permission Error"):
		return codes.InsufficientPrivilege
	case strings.HasPrefix(msg, "Out of Memory Error"):
		return codes.OutOfMemory
	}
	return codes.SyntaxErrorOrAccessRuleViolation
}
