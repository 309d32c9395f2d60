package replicate

import (
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers a dead letter carries besides the original ones.
const (
	HeaderError      = "x-pgfanout-error"       // why the message could not be applied
	HeaderReplica    = "x-pgfanout-replica"     // which replica gave up on it
	HeaderAttempts   = "x-pgfanout-attempts"    // failed attempts on its own
	HeaderRoutingKey = "x-pgfanout-routing-key" // where to republish it once fixed
	HeaderExchange   = "x-pgfanout-exchange"
)

const maxReason = 2000 // bytes: header frames are small

// deadLetterTimeout bounds the wait for the broker's confirm of a dead letter.
const deadLetterTimeout = 10 * time.Second

// publishDead sends m to the dead-letter queue and waits for the broker's confirm. Mandatory,
// so a missing dead queue is an error rather than a silent drop.
func (s *session) publishDead(m *message, reason error) error {
	return s.dead.PublishAndWait(s.hard, s.cfg.DeadExchange(), s.cfg.Queue(), s.letter(m, reason), deadLetterTimeout)
}

func (s *session) letter(m *message, reason error) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range m.d.Headers {
		headers[k] = v
	}
	text := reason.Error()
	if len(text) > maxReason {
		text = strings.ToValidUTF8(text[:maxReason], "") + "…"
	}
	headers[HeaderError] = text
	headers[HeaderReplica] = s.cfg.ReplicaName
	headers[HeaderAttempts] = int32(m.failures)
	headers[HeaderRoutingKey] = m.d.RoutingKey
	headers[HeaderExchange] = m.d.Exchange
	return amqp.Publishing{
		Headers: headers, ContentType: m.d.ContentType, ContentEncoding: m.d.ContentEncoding,
		DeliveryMode: amqp.Persistent, MessageId: m.d.MessageId, Timestamp: m.d.Timestamp,
		Type: m.d.Type, AppId: m.d.AppId, Body: m.d.Body,
	}
}
