package change

import (
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// FormatVersion is the version of this message format, carried in header HeaderFormat. It
// changes only when a consumer written for an older version could misread a message; adding
// a header or a JSON field does not change it. docs/messages.md describes version 1.
const FormatVersion int64 = 1

// ContentType of every message.
const ContentType = "application/json"

// Message headers, and the Go type each value has on the wire.
const (
	HeaderFormat       = "pgfanout-format"        // int64: FormatVersion
	HeaderSchema       = "pgfanout-schema"        // string: the table's schema
	HeaderTable        = "pgfanout-table"         // string: the table's name
	HeaderFirstVersion = "pgfanout-first-version" // int64: smallest version in the body
	HeaderLastVersion  = "pgfanout-last-version"  // int64: largest version in the body
	HeaderCount        = "pgfanout-count"         // int64: changes in the body
	// HeaderLowWater (int64, optional): when the message was published, every change of any
	// table below this version had been published and confirmed (docs/bookkeeping.md).
	HeaderLowWater = "pgfanout-low-water"
)

// Headers are a message's typed headers.
type Headers struct {
	Format       int64
	Schema       string
	Table        string
	FirstVersion int64
	LastVersion  int64
	Count        int64
}

// HeadersOf describes changes, all of schema.table.
func HeadersOf(schema, table string, changes []Change) Headers {
	h := Headers{Format: FormatVersion, Schema: schema, Table: table, Count: int64(len(changes))}
	for i, c := range changes {
		if i == 0 || c.Version < h.FirstVersion {
			h.FirstVersion = c.Version
		}
		h.LastVersion = max(h.LastVersion, c.Version)
	}
	return h
}

// AMQP is h as AMQP headers.
func (h Headers) AMQP() amqp.Table {
	return amqp.Table{
		HeaderFormat:       h.Format,
		HeaderSchema:       h.Schema,
		HeaderTable:        h.Table,
		HeaderFirstVersion: h.FirstVersion,
		HeaderLastVersion:  h.LastVersion,
		HeaderCount:        h.Count,
	}
}

// ParseHeaders reads the headers, each with exactly its documented type.
func ParseHeaders(t amqp.Table) (Headers, error) {
	var h Headers
	var err error
	ints := []struct {
		name string
		dst  *int64
	}{{HeaderFormat, &h.Format}, {HeaderFirstVersion, &h.FirstVersion}, {HeaderLastVersion, &h.LastVersion}, {HeaderCount, &h.Count}}
	for _, f := range ints {
		if *f.dst, err = header[int64](t, f.name); err != nil {
			return Headers{}, err
		}
	}
	if h.Schema, err = header[string](t, HeaderSchema); err != nil {
		return Headers{}, err
	}
	if h.Table, err = header[string](t, HeaderTable); err != nil {
		return Headers{}, err
	}
	if h.Format != FormatVersion {
		return Headers{}, fmt.Errorf("header %s: format version %d, this replicator reads %d", HeaderFormat, h.Format, FormatVersion)
	}
	return h, nil
}

func header[T any](t amqp.Table, name string) (T, error) {
	var zero T
	v, ok := t[name]
	if !ok {
		return zero, fmt.Errorf("header %s is missing", name)
	}
	x, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("header %s: %T %v, want %T", name, v, v, zero)
	}
	return x, nil
}

// Message is one message of the stream: changes of one table, as the publisher sends them.
type Message struct {
	RoutingKey string
	ID         string
	Headers    Headers
	Body       []byte // the JSON array of the changes (AppendBody)
	LowWater   int64  // the source's low-water mark when published; 0: not stamped
}

// NewMessage is the message carrying changes of schema.table, whose JSON array is body.
func NewMessage(id, schema, table string, changes []Change, body []byte) Message {
	return Message{RoutingKey: RoutingKey(schema, table), ID: id, Headers: HeadersOf(schema, table, changes), Body: body}
}

// Publishing is m as it goes on the wire: persistent, JSON, with its headers and id.
func (m Message) Publishing() amqp.Publishing {
	h := m.Headers.AMQP()
	if m.LowWater > 0 {
		h[HeaderLowWater] = m.LowWater
	}
	return amqp.Publishing{
		ContentType:  ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Timestamp:    time.Now(),
		Headers:      h,
		Body:         m.Body,
	}
}

// LowWater reads the optional low-water header: 0 when absent.
func LowWater(t amqp.Table) (int64, error) {
	if _, ok := t[HeaderLowWater]; !ok {
		return 0, nil
	}
	v, err := header[int64](t, HeaderLowWater)
	if err == nil && v < 0 {
		err = fmt.Errorf("header %s: %d is negative", HeaderLowWater, v)
	}
	return v, err
}

// DecodeDelivery checks a delivery against this format and returns its changes: content
// type, headers and their types, the body, and that the headers describe the body. A message
// that fails any of these was not written by a pgfanout publisher of this format.
func DecodeDelivery(d amqp.Delivery) ([]Change, error) {
	if d.ContentType != ContentType {
		return nil, fmt.Errorf("content type %q, want %q", d.ContentType, ContentType)
	}
	if d.ContentEncoding != "" {
		return nil, fmt.Errorf("content encoding %q: messages are never encoded", d.ContentEncoding)
	}
	h, err := ParseHeaders(d.Headers)
	if err != nil {
		return nil, err
	}
	if _, err := LowWater(d.Headers); err != nil {
		return nil, err
	}
	changes, err := Decode(d.Body)
	if err != nil {
		return nil, err
	}
	if err := h.describes(changes); err != nil {
		return nil, err
	}
	return changes, nil
}

// describes checks that the headers match the changes.
func (h Headers) describes(changes []Change) error {
	for i := range changes {
		if changes[i].Schema != h.Schema || changes[i].Table != h.Table {
			return fmt.Errorf("change %d is of %q.%q, the headers say %q.%q", i, changes[i].Schema, changes[i].Table, h.Schema, h.Table)
		}
	}
	want := HeadersOf(h.Schema, h.Table, changes)
	if want != h {
		return errors.New("headers disagree with the body: " + fmt.Sprintf("%+v, body says %+v", h, want))
	}
	return nil
}
