package testenv

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestPrivateRabbitMQKeepsDurableMessagesAcrossRestart(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	mq := StartRabbitMQ(t)
	publish := func() {
		conn, err := amqp.Dial(mq.URL())
		if err != nil {
			t.Fatalf("dial private node: %v", err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare("q", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		dc, err := ch.PublishWithDeferredConfirm("", "q", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("kept")})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish: %v", err)
		}
	}
	publish()
	mq.Stop()
	if _, err := amqp.Dial(mq.URL()); err == nil {
		t.Fatal("the node still accepts connections after Stop")
	}
	mq.Start()
	conn, err := amqp.Dial(mq.URL())
	if err != nil {
		t.Fatalf("dial restarted node: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	msg, ok, err := ch.Get("q", true)
	if err != nil || !ok || string(msg.Body) != "kept" {
		t.Fatalf("message after restart: ok=%v err=%v body=%q", ok, err, msg.Body)
	}
}
