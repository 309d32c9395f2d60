package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/xid"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
)

// HeaderReplays counts how often a message was moved back from the dead-letter queue.
const HeaderReplays = "x-pgfanout-replays"

// HeaderReplayID names the replay-dead run that last moved a message back; a dead letter that
// carries the running replay's own id failed again during it and is left where it is.
const HeaderReplayID = "x-pgfanout-replay-id"

// ReplayConfig is what `replicator replay-dead` needs.
type ReplayConfig struct {
	AMQPURL     string
	ReplicaName string
	// Tables, when set, moves only dead letters whose pgfanout-schema and pgfanout-table
	// headers it selects; the others stay. Empty: every dead letter.
	Tables   []Pattern
	Limit    int // at most this many moved; 0: all
	Window   int // moves in flight (published, confirm awaited); default 64
	Liveness liveness.Settings
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Moved   int // published to the replica's queue, confirmed, then removed from the dead queue
	Skipped int // left in the dead queue: not selected by Tables
	Again   int // left in the dead queue: moved by this run, and failed again meanwhile
}

// Replay moves the replica's dead letters back to its queue, published through the default
// exchange to that queue alone. Each is removed from the dead queue only after RabbitMQ
// confirmed its copy: a crash at any point leaves every message in one queue or in both
// (applying twice is harmless), never in neither. It moves only the messages the dead queue
// held when it started, so that a message that fails again and is dead-lettered anew during
// the replay is not moved round and round: each moved copy carries the run's id
// (HeaderReplayID), and a dead letter that comes back with it is left in the dead queue.
// Counts are not used to know when to stop: a quorum queue's count can trail the messages
// it takes back from a closed channel.
func Replay(ctx context.Context, cfg ReplayConfig, log zerolog.Logger) (ReplayResult, error) {
	if cfg.AMQPURL == "" || cfg.ReplicaName == "" {
		return ReplayResult{}, errors.New("replay: an AMQP URL and a replica name are required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 64
	}
	c := Config{ReplicaName: cfg.ReplicaName}
	r := &replayer{cfg: cfg, queue: c.Queue(), dead: c.DeadQueue(), log: log, id: xid.New().String()}
	conn, err := broker.Dial(ctx, broker.DialConfig{URL: cfg.AMQPURL, Name: connectionName(cfg.ReplicaName) + " replay-dead",
		Liveness: cfg.Liveness})
	if err != nil {
		return ReplayResult{}, err
	}
	// Closing the connection returns every dead letter not acknowledged to the dead queue.
	defer conn.Close(time.Second)
	if err := r.open(conn); err != nil {
		return ReplayResult{}, err
	}
	err = r.run(ctx)
	return r.res, err
}

type replayer struct {
	cfg         ReplayConfig
	queue, dead string
	log         zerolog.Logger
	get, pub    *amqp.Channel
	returns     chan amqp.Return
	res         ReplayResult
	id          string // this run's HeaderReplayID
}

// open checks that both queues exist (a passive declare fails the channel otherwise) and
// opens a channel to take dead letters and a confirm channel to publish them.
func (r *replayer) open(conn *broker.Conn) error {
	var err error
	if r.get, err = conn.Channel(); err != nil {
		return err
	}
	for _, q := range []string{r.dead, r.queue} {
		if _, err := r.get.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
			return fmt.Errorf("queue %q: %w (run `replicator declare` for this replica first)", q, err)
		}
	}
	if r.pub, err = conn.Channel(); err != nil {
		return err
	}
	// Returns arrive before the confirm of the same message (amqp091 hands them over first),
	// so once a window is confirmed, its returns are in this buffer: one per message at most.
	r.returns = r.pub.NotifyReturn(make(chan amqp.Return, r.cfg.Window))
	if err := r.pub.Confirm(false); err != nil {
		return fmt.Errorf("put RabbitMQ channel in confirm mode: %w", err)
	}
	return nil
}

// run moves windows of dead letters until the dead queue has no more to take (those it
// skips or that failed again during this run stay unacknowledged, so a get does not return
// them twice), the limit is reached, or something fails.
func (r *replayer) run(ctx context.Context) error {
	for ctx.Err() == nil {
		var window []amqp.Delivery
		empty := false
		for len(window) < r.cfg.Window && r.more(len(window)) {
			d, ok, err := r.get.Get(r.dead, false)
			if err != nil {
				return fmt.Errorf("get from %q: %w", r.dead, err)
			}
			if !ok {
				empty = true
				break
			}
			if id, _ := d.Headers[HeaderReplayID].(string); id == r.id {
				r.res.Again++ // moved by this run and failed again: left for a later one
				continue
			}
			if !r.selected(d) {
				r.res.Skipped++ // left unacknowledged: it goes back when the connection closes
				continue
			}
			window = append(window, d)
		}
		if len(window) > 0 {
			if err := r.move(ctx, window); err != nil {
				return err
			}
			r.log.Info().Int("moved", r.res.Moved).Int("skipped", r.res.Skipped).Msg("replaying dead letters")
		}
		if empty || !r.more(0) {
			return nil
		}
	}
	return ctx.Err()
}

// more reports whether a dead letter may be taken besides the pending ones of the window
// being filled: the limit is not reached.
func (r *replayer) more(pending int) bool {
	return r.cfg.Limit <= 0 || r.res.Moved+pending < r.cfg.Limit
}

func (r *replayer) selected(d amqp.Delivery) bool {
	if len(r.cfg.Tables) == 0 {
		return true
	}
	schema, okS := d.Headers[change.HeaderSchema].(string)
	table, okT := d.Headers[change.HeaderTable].(string)
	return okS && okT && MatchAny(r.cfg.Tables, schema, table)
}

// move publishes a window to the replica's queue and acknowledges each dead letter whose
// copy RabbitMQ confirmed and routed; the first that was not stops the replay, its dead
// letter left where it is.
func (r *replayer) move(ctx context.Context, window []amqp.Delivery) error {
	confirms := make([]*amqp.DeferredConfirmation, len(window))
	for i, d := range window {
		dc, err := r.pub.PublishWithDeferredConfirmWithContext(ctx, "", r.queue, true, false, replayed(d, r.id))
		if err != nil {
			return fmt.Errorf("publish dead letter %s to %q: %w", d.MessageId, r.queue, err)
		}
		confirms[i] = dc
	}
	for i, dc := range confirms {
		acked, err := r.wait(ctx, dc)
		if err != nil {
			return fmt.Errorf("confirm of dead letter %s: %w", window[i].MessageId, err)
		}
		if !acked {
			return fmt.Errorf("dead letter %s: RabbitMQ refused its copy (nack); it stays in %q", window[i].MessageId, r.dead)
		}
	}
	select {
	case ret := <-r.returns:
		return fmt.Errorf("dead letter %s came back unroutable (%s): is %q still there? Nothing was lost", ret.MessageId, ret.ReplyText, r.queue)
	default:
	}
	for _, d := range window {
		if err := r.get.Ack(d.DeliveryTag, false); err != nil {
			return fmt.Errorf("remove dead letter %s from %q after its copy was confirmed: %w", d.MessageId, r.dead, err)
		}
		r.res.Moved++
		r.log.Debug().Str("message_id", d.MessageId).Uint64("tag", d.DeliveryTag).Msg("moved a dead letter")
	}
	// Acks have no reply: a passive declare on the same channel is answered only after the
	// broker processed every method sent before it, so "moved" is never ahead of the broker.
	if _, err := r.get.QueueDeclarePassive(r.dead, true, false, false, false, nil); err != nil {
		return fmt.Errorf("remove dead letters from %q: %w", r.dead, err)
	}
	return nil
}

// wait waits for one confirm, at most the liveness timeout while nothing arrives.
func (r *replayer) wait(ctx context.Context, dc *amqp.DeferredConfirmation) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.Liveness.WithDefaults().Timeout)
	defer cancel()
	return dc.WaitContext(wctx)
}

// replayed is the dead letter as it is published again: its properties and headers, without
// the dead-letter headers (the replicator writes new ones if it fails again) and the
// broker's delivery count, with the replay counted.
func replayed(d amqp.Delivery, id string) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	for _, k := range []string{HeaderError, HeaderReplica, HeaderAttempts, HeaderRoutingKey, HeaderExchange, "x-delivery-count"} {
		delete(headers, k)
	}
	n, _ := d.Headers[HeaderReplays].(int32)
	headers[HeaderReplays] = n + 1
	headers[HeaderReplayID] = id
	return amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, MessageId: d.MessageId, Timestamp: d.Timestamp,
		Type: d.Type, AppId: d.AppId, CorrelationId: d.CorrelationId, Body: d.Body,
	}
}
