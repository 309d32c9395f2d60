// Package redact hides passwords in connection URLs before they reach a log line.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// URL returns u with any password replaced by "xxxxx". It handles URL forms
// (postgres://, amqp://, also a password= query parameter), comma-separated lists of them
// (the nodes of a RabbitMQ cluster: each URL is redacted) and PostgreSQL keyword/value
// strings ("host=x password=secret"). An unparseable URL is hidden entirely.
func URL(u string) string {
	if parts := splitList(u); len(parts) > 1 {
		for i, p := range parts {
			parts[i] = one(strings.TrimSpace(p))
		}
		return strings.Join(parts, ",")
	}
	return one(u)
}

// nextURL matches the start of a URL after a comma.
var nextURL = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)

// splitList splits u at the commas that a scheme:// follows, leaving commas inside a URL.
func splitList(u string) []string {
	var parts []string
	for _, p := range strings.Split(u, ",") {
		if len(parts) > 0 && !nextURL.MatchString(p) {
			parts[len(parts)-1] += "," + p
			continue
		}
		parts = append(parts, p)
	}
	return parts
}

func one(u string) string {
	keywordPassword := regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" {
		if keywordPassword.MatchString(u) {
			return keywordPassword.ReplaceAllString(u, "${1}xxxxx")
		}
		if err != nil {
			return "(unparseable URL)"
		}
		return u
	}
	if q := parsed.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		parsed.RawQuery = q.Encode()
	}
	return parsed.Redacted()
}
