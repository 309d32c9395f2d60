package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfanout/pgfanout/internal/bootstrap"
	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/redact"
)

// AppName is how status connections show in pg_stat_activity and RabbitMQ's connection list.
const AppName = "pgfanout-status"

// Read reads everything cfg names, on connections it closes again. A part that cannot be
// read has its error in the report; Read itself fails only when ctx ends.
func Read(ctx context.Context, cfg Config) (Report, error) {
	rd := &reader{cfg: cfg}
	defer rd.close()
	r := rd.read(ctx)
	return r, ctx.Err()
}

// reader reads reports on connections it keeps between reads (the exporter reads every few
// seconds); a connection that failed is dropped and opened again on the next read.
type reader struct {
	cfg      Config
	src      *pgx.Conn
	mq       *broker.Conn
	replicas map[string]*pgx.Conn
}

func (rd *reader) read(ctx context.Context) Report {
	cfg := rd.cfg
	r := Report{Time: time.Now().UTC(), Source: cfg.SourceURL != "", Broker: cfg.AMQPURL != ""}
	if r.Source {
		conn, err := rd.pg(ctx, &rd.src, cfg.SourceURL)
		if err == nil {
			if r.Publisher, r.ChangeLog, err = readSource(ctx, conn, cfg); err != nil {
				rd.drop(&rd.src)
			}
		}
		r.SourceError = errText(err)
	}
	for _, rep := range cfg.Replicas {
		r.Replicas = append(r.Replicas, ReplicaStatus{Name: rep.Name})
	}
	if r.Broker {
		err := rd.broker(ctx)
		if err == nil {
			if err = readQueues(rd.mq, cfg.Replicas, r.Replicas); err != nil {
				rd.mq.Close(time.Second)
				rd.mq = nil
			}
		}
		r.BrokerError = errText(err)
	}
	for i, rep := range cfg.Replicas {
		if rep.URL == "" {
			continue
		}
		if rd.replicas == nil {
			rd.replicas = map[string]*pgx.Conn{}
		}
		kept := rd.replicas[rep.Name]
		conn, err := rd.pg(ctx, &kept, rep.URL)
		if err == nil {
			if r.Replicas[i].Copy, err = readCopy(ctx, conn, cfg); err != nil {
				rd.drop(&kept)
			}
		}
		rd.replicas[rep.Name] = kept
		r.Replicas[i].CopyError = errText(err)
	}
	r.fillLag()
	return r
}

// pg returns *kept, connecting it first when there is none.
func (rd *reader) pg(ctx context.Context, kept **pgx.Conn, url string) (*pgx.Conn, error) {
	if *kept != nil && !(*kept).IsClosed() {
		return *kept, nil
	}
	conn, err := connect(ctx, url, rd.cfg)
	*kept = conn
	return conn, err
}

func (rd *reader) drop(kept **pgx.Conn) {
	if *kept != nil {
		closeConn(*kept)
		*kept = nil
	}
}

func (rd *reader) broker(ctx context.Context) error {
	if rd.mq != nil {
		select {
		case <-rd.mq.Done():
			rd.mq.Close(time.Second)
			rd.mq = nil
		default:
			return nil
		}
	}
	conn, err := broker.Dial(ctx, broker.DialConfig{URL: rd.cfg.AMQPURL, Name: AppName, Liveness: rd.cfg.Liveness})
	if err != nil {
		return fmt.Errorf("%w%s", err, hint(err))
	}
	rd.mq = conn
	return nil
}

func (rd *reader) close() {
	rd.drop(&rd.src)
	for name, conn := range rd.replicas {
		rd.drop(&conn)
		delete(rd.replicas, name)
	}
	if rd.mq != nil {
		rd.mq.Close(time.Second)
		rd.mq = nil
	}
}

// connect opens a session with the configured liveness, named AppName unless the URL says.
func connect(ctx context.Context, url string, cfg Config) (*pgx.Conn, error) {
	pc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redact.URL(url), err)
	}
	live := cfg.Liveness.WithDefaults()
	live.PG(&pc.Config)
	if _, set := pc.RuntimeParams["application_name"]; !set {
		pc.RuntimeParams["application_name"] = AppName
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w%s", redact.URL(url), err, hint(err))
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// readCopy reads a replica's copy progress; a replica no replicator ran on yet has none.
func readCopy(ctx context.Context, q bootstrap.Querier, cfg Config) (*Copy, error) {
	progress, err := bootstrap.ReadProgress(ctx, q, cfg.Liveness.WithDefaults().Timeout)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return &Copy{Tables: map[string]int{}}, nil // no bookkeeping schema yet
	}
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, hint(err))
	}
	c := &Copy{Started: true, Tables: map[string]int{}}
	for _, p := range progress {
		c.Tables[p.State]++
		c.Chunks += p.Chunks
		c.ChunksDone += p.ChunksDone
		c.Rows += p.Rows
		c.RowsEstimate += p.RowsEstimate
		if p.State != bootstrap.StateDone {
			c.Unfinished = append(c.Unfinished, TableProgress{Table: p.Schema + "." + p.Table, State: p.State,
				Reason: p.Reason, ChunksDone: p.ChunksDone, Chunks: p.Chunks})
		}
	}
	return c, nil
}

// hint says what to check for errors that waiting will not mend, or "".
func hint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return " (hint: the server refused the credentials in the URL; in the compose stack a password changed in .env after the first start is not applied: README, Credentials changed after the first start)"
		case "42501":
			return " (hint: the role lacks a grant: SELECT on pgfanout.leader and pgfanout.backlog on the source, on pgfanout.copy_tables and copy_chunks on a replica)"
		case "3F000", "42P01":
			return " (hint: no pgfanout capture here: run `publisher migrate` against the source)"
		}
	}
	if h := broker.Hint(err); h != "" {
		return " (hint: " + h + ")"
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}

// fillLag says how far behind each replica is, as far as the source and the broker tell.
func (r *Report) fillLag() {
	for i := range r.Replicas {
		rs := &r.Replicas[i]
		var parts []string
		if r.ChangeLog != nil && r.ChangeLog.Changes > 0 {
			parts = append(parts, fmt.Sprintf("at least %s (the change log's oldest)", seconds(r.ChangeLog.OldestAge)))
		}
		switch q := rs.Queue; {
		case q == nil:
		case !q.Declared:
			parts = append(parts, "no queue: changes are not kept for it")
		case q.Messages > 0:
			parts = append(parts, fmt.Sprintf("%d messages queued", q.Messages))
		}
		if len(parts) == 0 {
			parts = append(parts, "n/a")
			if rs.Queue != nil {
				parts[0] = "nothing queued"
			}
		}
		rs.Lag = strings.Join(parts, ", ")
	}
}

// seconds prints a duration in seconds the way a person reads it: 0.4s, 12s, 3m05s, 2h10m.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
