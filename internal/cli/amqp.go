package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/redact"
)

// AMQP holds the flags that say where RabbitMQ is, which both programs take: --amqp-url,
// repeated or comma-separated for the nodes of a cluster (PGFANOUT_AMQP_URL holds them
// comma-separated), and the TLS files of amqps:// URLs.
type AMQP struct {
	URLs     []string
	CAFile   string // PEM: the CAs RabbitMQ's certificate must chain to
	CertFile string // PEM: the client certificate, for RabbitMQ's verify_peer
	KeyFile  string // PEM: its private key
}

// Flags registers --amqp-url, --amqp-ca-file, --amqp-cert-file and --amqp-key-file on fs.
func (a *AMQP) Flags(fs *flag.FlagSet) {
	fs.Var(&urlList{urls: &a.URLs}, "amqp-url", "RabbitMQ `URL` (amqp://user:password@host:5672/vhost, amqps:// for TLS); for a cluster repeat the flag or separate the nodes' URLs with commas")
	fs.StringVar(&a.CAFile, "amqp-ca-file", "", "PEM `file` of the CAs RabbitMQ's certificate must chain to (amqps://; default: the system's)")
	fs.StringVar(&a.CertFile, "amqp-cert-file", "", "PEM `file` of the client certificate presented to RabbitMQ (amqps://, with --amqp-key-file)")
	fs.StringVar(&a.KeyFile, "amqp-key-file", "", "PEM `file` of the client certificate's private key")
}

// URL checks the flags and returns them as broker.Dial takes them: the URLs comma-separated,
// each amqps:// URL carrying the TLS files as its query parameters cacertfile, certfile and
// keyfile (a URL that names its own keeps them). It is "" when no URL was given. A single
// URL without TLS flags comes back as it was given.
func (a AMQP) URL() (string, error) {
	tlsFlags := map[string]string{"amqp-ca-file": a.CAFile, "amqp-cert-file": a.CertFile, "amqp-key-file": a.KeyFile}
	for name, file := range tlsFlags {
		if file == "" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			return "", UsageError{fmt.Sprintf("--%s: %v", name, err)}
		}
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		return "", UsageError{"--amqp-cert-file and --amqp-key-file go together"}
	}
	urls := make([]string, len(a.URLs))
	anyTLS := false
	for i, raw := range a.URLs {
		uri, err := amqp.ParseURI(raw)
		if err != nil {
			return "", UsageError{fmt.Sprintf("--amqp-url %s: %v", redact.URL(raw), withoutURL(err))}
		}
		urls[i] = raw
		if uri.Scheme != "amqps" {
			continue
		}
		anyTLS = true
		if urls[i], err = withTLSFiles(raw, a); err != nil {
			return "", UsageError{fmt.Sprintf("--amqp-url %s: %v", redact.URL(raw), withoutURL(err))}
		}
	}
	if !anyTLS && (a.CAFile != "" || a.CertFile != "") {
		return "", UsageError{"--amqp-ca-file, --amqp-cert-file and --amqp-key-file need an amqps:// --amqp-url"}
	}
	return strings.Join(urls, ","), nil
}

// withTLSFiles adds the TLS files to raw's query, unless it names its own.
func withTLSFiles(raw string, a AMQP) (string, error) {
	if a.CAFile == "" && a.CertFile == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for param, file := range map[string]string{"cacertfile": a.CAFile, "certfile": a.CertFile, "keyfile": a.KeyFile} {
		if file != "" && !q.Has(param) {
			q.Set(param, file)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withoutURL drops the URL that net/url puts in its errors: it holds the password.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// urlList is --amqp-url: each occurrence adds its URLs (one, or a comma-separated list), so
// that repeating the flag and separating with commas mean the same. The first occurrence
// in a flag set replaces what an earlier flag set parsed into the same AMQP (a command's
// flags are parsed, with the environment, before its subcommand's), as a plain string flag
// would.
type urlList struct {
	urls *[]string
	set  bool // Set was called on this flag set's flag
}

func (l *urlList) String() string {
	if l == nil || l.urls == nil {
		return ""
	}
	return strings.Join(*l.urls, ",")
}

func (l *urlList) Set(s string) error {
	urls := broker.SplitURLs(s)
	if len(urls) == 0 {
		return fmt.Errorf("no URL in %q", s)
	}
	if !l.set {
		*l.urls, l.set = nil, true
	}
	*l.urls = append(*l.urls, urls...)
	return nil
}
