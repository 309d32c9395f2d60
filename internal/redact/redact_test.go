package redact

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u:s3cret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"amqp://guest:guest@localhost:5672/", "amqp://guest:xxxxx@localhost:5672/"},
		{"postgres://h/db?password=s3cret", "postgres://h/db?password=xxxxx"},
		{"host=h password=s3cret dbname=x", "host=h password=xxxxx dbname=x"},
		{"host=h password='s3 cret' dbname=x", "host=h password=xxxxx dbname=x"},
		{"postgres://h/db", "postgres://h/db"},
		{"amqp://u:s3cret@h1/,amqps://u:s3cret@h2:5671/?cacertfile=/ca.pem, amqp://h3/",
			"amqp://u:xxxxx@h1/,amqps://u:xxxxx@h2:5671/?cacertfile=/ca.pem,amqp://h3/"},
		{"amqp://u:s3,cret@h1/,amqp://u:s3cret,@h2/", "amqp://u:xxxxx@h1/,amqp://u:xxxxx@h2/"},
	}
	for _, c := range cases {
		got := URL(c.in)
		require.Equal(t, c.want, got)
		require.NotContains(t, got, "s3cret")
	}
}
