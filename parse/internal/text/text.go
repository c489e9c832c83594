// Package text holds the small helpers the parsers of text log formats (ELB, S3 access, CloudFront)
// share: reading numbers and TLS versions out of fields, and shortening a field for an error message.
package text

import (
	"strings"

	"github.com/ramen-siem/ramen/event"
)

// Blank reports whether a line holds only spaces, tabs or a carriage return.
func Blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// Clip shortens a field for an error message: log fields are attacker-written and may be huge.
func Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Num parses a non-negative decimal number of digits only (no sign, no spaces), up to 18 digits so
// that it cannot overflow.
func Num(s string) (int, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// TLSVersion turns "TLSv1.2" into ("tls", "1.2"), "TLSv1" into ("tls", "1.0") and "TLSv13" into
// ("tls", "1.3"), as ECS's tls.version_protocol and tls.version have them.
func TLSVersion(p string) (name, version string, ok bool) {
	i := strings.IndexAny(p, "vV")
	if i <= 0 || i+1 >= len(p) {
		return "", "", false
	}
	switch {
	case strings.EqualFold(p[:i], "tls"):
		name = "tls"
	case strings.EqualFold(p[:i], "ssl"):
		name = "ssl"
	default:
		return "", "", false
	}
	v := p[i+1:]
	switch {
	case strings.IndexByte(v, '.') >= 0:
		version = v
	case len(v) == 1:
		version = v + ".0"
	default:
		version = v[:1] + "." + v[1:]
	}
	return name, version, true
}

// AddURLPath sets url.fragment, url.query, url.path and url.extension from what follows the host in a
// URL ("/a/b.php?x=1#top"). Empty parts are left out.
func AddURLPath(e *event.Event, rest string) {
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		if rest[i+1:] != "" && rest[i+1:] != "-" {
			e.Add("url.fragment", event.String(rest[i+1:]))
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		if rest[i+1:] != "" {
			e.Add("url.query", event.String(rest[i+1:]))
		}
		rest = rest[:i]
	}
	if rest != "" {
		AddPath(e, rest)
	}
}

// AddPath sets url.path and, when its last segment has one, url.extension.
func AddPath(e *event.Event, path string) {
	e.Add("url.path", event.String(path))
	seg := path[strings.LastIndexByte(path, '/')+1:]
	if d := strings.LastIndexByte(seg, '.'); d >= 0 && d+1 < len(seg) {
		e.Add("url.extension", event.String(seg[d+1:]))
	}
}
