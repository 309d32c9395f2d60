package status

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/broker"
)

// readQueues fills each replica's queue and dead-letter queue by passive declares, which
// neither create nor change anything. A missing queue closes its channel; the next one opens
// another. It returns an error only when the connection itself failed.
func readQueues(conn *broker.Conn, replicas []Replica, out []ReplicaStatus) error {
	var ch *amqp.Channel
	defer func() {
		if ch != nil && !ch.IsClosed() {
			_ = ch.Close()
		}
	}()
	inspect := func(name string) (amqp.Queue, bool, error) {
		if ch == nil || ch.IsClosed() {
			var err error
			if ch, err = conn.Channel(); err != nil {
				return amqp.Queue{}, false, err
			}
		}
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
			return q, false, nil
		}
		if err != nil {
			return q, false, fmt.Errorf("inspect queue %q: %w%s", name, err, hint(err))
		}
		return q, true, nil
	}
	for i, rep := range replicas {
		q := &Queue{Name: rep.Queue(), DeadQueue: rep.DeadQueue()}
		main, declared, err := inspect(q.Name)
		if err == nil {
			q.Declared, q.Messages, q.Consumers = declared, main.Messages, main.Consumers
			var dead amqp.Queue
			dead, q.DeadDeclared, err = inspect(q.DeadQueue)
			q.DeadLetters = dead.Messages
		}
		if err != nil {
			out[i].QueueError = err.Error()
			select {
			case <-conn.Done():
				return err
			default:
			}
			continue
		}
		out[i].Queue = q
	}
	return nil
}
