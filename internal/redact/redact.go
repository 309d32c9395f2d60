// Package redact hides passwords in connection URLs before they reach a log line.
package redact

import (
	"net/url"
	"regexp"
)

// URL returns u with any password replaced by "xxxxx". It handles URL forms
// (postgres://, amqp://, also a password= query parameter) and PostgreSQL keyword/value
// strings ("host=x password=secret"). An unparseable URL is hidden entirely.
func URL(u string) string {
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
