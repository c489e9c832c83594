// Package route53 parses Amazon Route 53 DNS query logs into ECS events. One type reads both kinds:
//
//   - Route 53 Resolver query logs (the DNS queries made from VPCs), JSON objects delivered to S3
//     (AWSLogs/<account>/vpcdnsquerylogs/<vpc-id>/yyyy/mm/dd/<account>_vpcdnsquerylogs_<vpc-id>_....log.gz,
//     one per line), to CloudWatch Logs or through Firehose; JSON arrays and pretty-printed single
//     records are read too.
//   - Route 53 public DNS query logs (the queries that Route 53 answered for a public hosted zone),
//     text lines "<version> <timestamp> <hosted zone id> <query name> <type> <rcode> <protocol>
//     <edge location> <resolver ip> <EDNS client subnet>", written to CloudWatch Logs groups
//     /aws/route53/<zone>.
//
// An object whose first byte is '{' or '[' is read as JSON records (so that pretty-printed records
// work); any other object is read line by line, and each line that starts with '{' is a resolver
// record on its own, every other line a public query log line.
//
// The mapping follows Elastic's AWS integration (data stream route53_resolver_logs): dns.question.*
// without the trailing dot, dns.response_code, dns.answers as objects {data, type, class}, the client
// as source.ip/port, network.transport/protocol/iana_number/type, event.category ["network"],
// event.type ["protocol"], event.outcome success for NOERROR and failure otherwise. dns.resolved_ip
// lists the A/AAAA answers. Public query logs map to the same fields, plus aws.route53.hosted_zone_id
// and aws.route53.edge_location; their source is the resolver that asked Route 53.
package route53

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/jsonrec"
)

func init() {
	parse.Register(&parse.Type{
		Name:       "route53",
		Title:      "Amazon Route 53 DNS query logs (Resolver and public hosted zones)",
		Dataset:    "aws.route53",
		Parse:      Parse,
		Services:   []string{"vpcdnsquerylogs"},
		MatchName:  matchName,
		Sniff:      sniff,
		SniffOrder: 20,
		// Native names of the public query log's text fields, named like the resolver log's JSON keys
		// where they mean the same, so one rule can serve both.
		Aliases: map[string]string{
			"version":            "aws.route53.version",
			"query_timestamp":    "@timestamp",
			"hosted_zone_id":     "aws.route53.hosted_zone_id",
			"query_name":         "dns.question.name",
			"query_type":         "dns.question.type",
			"rcode":              "dns.response_code",
			"transport":          "network.transport",
			"edge_location":      "aws.route53.edge_location",
			"resolver_ip":        "source.ip",
			"srcaddr":            "source.ip",
			"edns_client_subnet": "aws.route53.edns_client_subnet",
		},
	})
}

// matchName recognises the resolver log objects' own names and exports of the public query log groups.
func matchName(name string) bool {
	name = strings.ReplaceAll(name, "\\", "/")
	base := name[strings.LastIndexByte(name, '/')+1:]
	return strings.Contains(base, "_vpcdnsquerylogs_") || strings.Contains(name, "/aws/route53/")
}

// sniff recognises resolver records by their keys, and public query log lines by their shape.
func sniff(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return false
	}
	if t[0] == '{' || t[0] == '[' {
		return !bytes.Contains(t, []byte(`"eventVersion"`)) &&
			bytes.Contains(t, []byte(`"query_name"`)) && bytes.Contains(t, []byte(`"query_timestamp"`))
	}
	line := t
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	var f [12]string
	n := split(strings.TrimRight(string(line), "\r"), f[:])
	if n != 9 && n != 10 {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, f[1])
	return err == nil && isVersion(f[0]) && len(f[2]) > 1 && f[2][0] == 'Z'
}

// Parse reads one object of DNS query log records.
func Parse(ctx context.Context, in *parse.Input) error {
	br, ok := in.R.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(in.R, 64<<10)
		in.R = br
	}
	if c := first(br); c == '{' || c == '[' {
		return parseJSON(ctx, in)
	}
	return parseLines(ctx, in)
}

// first returns the first byte that is not white space (0 if none in the first 4 KiB).
func first(br *bufio.Reader) byte {
	for n := 64; ; n *= 4 {
		b, err := br.Peek(n)
		if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 {
			return t[0]
		}
		if err != nil || n >= 4096 {
			return 0
		}
	}
}

func parseJSON(ctx context.Context, in *parse.Input) error {
	var p fastjson.Parser
	var r jsonrec.Rec
	return in.EachJSON(ctx, nil, func(rec *parse.Record) error {
		e, reason, err := resolver(&p, &r, string(rec.Raw))
		if err != nil {
			rec.Reject(reason, err)
			return nil
		}
		return rec.Emit(e)
	})
}

func parseLines(ctx context.Context, in *parse.Input) error {
	ls := in.Lines()
	var p fastjson.Parser
	var r jsonrec.Rec
	for {
		ok, err := ls.Next()
		if !ok {
			return ls.Err()
		}
		if err != nil {
			in.Reject(ls.Line(), 0, ls.Offset(), "too_long", err, nil)
			continue
		}
		line := ls.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e *event.Event
		var reason string
		if line[0] == '{' {
			e, reason, err = resolver(&p, &r, string(line))
		} else {
			e, reason, err = public(string(line))
		}
		if err != nil {
			in.Reject(ls.Line(), 0, ls.Offset(), reason, err, line)
			continue
		}
		if err := in.Emit(e, ls.Offset()); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Lists shared by every event (a Strings value is never modified).
var (
	categoryNetwork = []string{"network"}
	typeProtocol    = []string{"protocol"}
)

// common sets what every DNS query event has.
func common(e *event.Event, rcode string) {
	e.Set("event.kind", event.String("event"))
	e.Set("event.category", event.Strings(categoryNetwork...))
	e.Set("event.type", event.Strings(typeProtocol...))
	e.Set("network.protocol", event.String("dns"))
	if rcode != "" {
		e.Set("dns.response_code", event.String(rcode))
		if rcode == "NOERROR" {
			e.Set("event.outcome", event.String("success"))
		} else {
			e.Set("event.outcome", event.String("failure"))
		}
	}
}

// transport sets network.transport (lower case) and network.iana_number.
func transport(e *event.Event, t string) {
	switch t {
	case "UDP", "udp":
		e.Set("network.transport", event.String("udp"))
		e.Set("network.iana_number", event.String("17"))
	case "TCP", "tcp":
		e.Set("network.transport", event.String("tcp"))
		e.Set("network.iana_number", event.String("6"))
	case "", "-":
	default:
		e.Set("network.transport", event.String(strings.ToLower(t)))
	}
}

// source sets source.ip (or source.address when it is not an address), network.type and the
// first related.ip, and returns the address.
func source(e *event.Event, addr string) string {
	if addr == "" || addr == "-" {
		return ""
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		e.Set("source.address", event.String(addr))
		return ""
	}
	s := addr
	if ip.String() != addr {
		s = ip.String()
	}
	e.Set("source.address", event.String(addr))
	e.Set("source.ip", event.String(s))
	if ip.Is4() || ip.Is4In6() {
		e.Set("network.type", event.String("ipv4"))
	} else {
		e.Set("network.type", event.String("ipv6"))
	}
	return s
}

// resolver maps one Route 53 Resolver query log record. query_name and query_timestamp make it one.
func resolver(p *fastjson.Parser, r *jsonrec.Rec, orig string) (*event.Event, string, error) {
	v, err := r.Parse(p, orig)
	if err != nil {
		return nil, "json", fmt.Errorf("invalid JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, "json", fmt.Errorf("a Resolver query log record is a JSON object, not %s", v.Type())
	}
	qname := r.Get(v, "query_name")
	if qname == "" {
		return nil, "fields", errors.New("field query_name: missing (not a Route 53 Resolver query log record)")
	}
	ts := r.Get(v, "query_timestamp")
	if ts == "" {
		return nil, "time", errors.New("field query_timestamp: missing")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, "time", fmt.Errorf("field query_timestamp: not an RFC 3339 time: %q", ts)
	}

	e := event.New("route53", orig, 40)
	e.SetTimestampIn(event.RFC3339In(t, ts))
	rcode := r.Get(v, "rcode")
	common(e, rcode)
	e.SetString("cloud.account.id", r.Get(v, "account_id"))
	e.SetString("cloud.region", r.Get(v, "region"))
	e.SetString("aws.route53.version", r.Get(v, "version"))
	e.SetString("aws.route53.vpc_id", r.Get(v, "vpc_id"))
	if inst := r.Get(v, "srcids", "instance"); inst != "" {
		e.Set("cloud.instance.id", event.String(inst))
		e.Set("aws.route53.instance_id", event.String(inst))
	}
	e.SetString("aws.route53.resolver_endpoint_id", r.Get(v, "srcids", "resolver_endpoint"))

	qtype := r.Get(v, "query_type")
	name := strings.TrimSuffix(qname, ".")
	e.SetString("dns.question.name", name)
	e.SetString("dns.question.type", qtype)
	e.SetString("dns.question.class", r.Get(v, "query_class"))
	transport(e, r.Get(v, "transport"))

	ips := make([]string, 0, 4)
	if s := source(e, r.Get(v, "srcaddr")); s != "" {
		ips = append(ips, s)
	}
	if port := v.Get("srcport"); port != nil {
		var n int64 = -1
		var text string // the port's text in the record
		switch port.Type() {
		case fastjson.TypeString:
			text = r.Text(port)
			n, err = strconv.ParseInt(text, 10, 32)
			if err != nil {
				n = -1
			}
		case fastjson.TypeNumber:
			n = port.GetInt64()
			text = r.Number(port)
		}
		if n >= 0 && n <= 65535 {
			e.Set("source.port", event.IntIn(n, text))
		}
	}

	// Answers: dns.answers as objects, dns.resolved_ip for addresses, related.* for both.
	var hosts []string
	var resolved []string
	if ans := v.GetArray("answers"); len(ans) > 0 {
		b := make([]byte, 0, 64*len(ans))
		b = append(b, '[')
		for i, a := range ans {
			data := strings.TrimSuffix(r.Get(a, "Rdata"), ".")
			typ, class := r.Get(a, "Type"), r.Get(a, "Class")
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			sep := false
			b, sep = member(b, sep, "class", class)
			b, sep = member(b, sep, "type", typ)
			b, sep = member(b, sep, "data", data)
			if typ == "CNAME" {
				b, _ = member(b, sep, "name", data)
			}
			b = append(b, '}')
			switch typ {
			case "A", "AAAA":
				if ip, err := netip.ParseAddr(data); err == nil {
					resolved = append(resolved, ip.String())
					ips = appendNew(ips, ip.String())
				}
			case "CNAME", "PTR":
				if data != "" {
					hosts = appendNew(hosts, data)
				}
			}
		}
		b = append(b, ']')
		e.Set("dns.answers", event.JSON(string(b)))
	}
	if len(resolved) > 0 {
		e.Set("dns.resolved_ip", event.Strings(resolved...))
	}
	if qtype == "PTR" {
		if ip := reverseIP(name); ip != "" {
			ips = appendNew(ips, ip)
		}
	} else if name != "" {
		hosts = appendNew(hosts, name)
	}
	if len(ips) > 0 {
		e.Set("related.ip", event.Strings(ips...))
	}
	if len(hosts) > 0 {
		e.Set("related.hosts", event.Strings(hosts...))
	}

	// DNS Firewall.
	e.SetString("aws.route53.firewall.action", r.Get(v, "firewall_rule_action"))
	e.SetString("aws.route53.firewall.rule_group.id", r.Get(v, "firewall_rule_group_id"))
	e.SetString("aws.route53.firewall.domain_list.id", r.Get(v, "firewall_domain_list_id"))
	e.SetString("aws.route53.firewall.protection", r.Get(v, "firewall_protection"))
	return e, "", nil
}

// public maps one public DNS query log line: 9 fields, or 10 with the EDNS client subnet.
func public(line string) (*event.Event, string, error) {
	var f [11]string
	n := split(line, f[:])
	if n != 9 && n != 10 {
		return nil, "fields", fmt.Errorf("a public DNS query log line has 9 or 10 fields, this one %d", n)
	}
	if !isVersion(f[0]) {
		return nil, "fields", fmt.Errorf("field 1 (log format version): %q is not a version", f[0])
	}
	t, err := time.Parse(time.RFC3339Nano, f[1])
	if err != nil {
		return nil, "time", fmt.Errorf("field 2 (query timestamp): not an RFC 3339 time: %q", f[1])
	}
	e := event.New("route53", line, 28)
	e.SetTimestampIn(event.RFC3339In(t, f[1]))
	common(e, f[5])
	e.Set("aws.route53.version", event.String(f[0]))
	e.SetString("aws.route53.hosted_zone_id", f[2])
	name := strings.TrimSuffix(f[3], ".")
	e.SetString("dns.question.name", name)
	e.SetString("dns.question.type", f[4])
	transport(e, f[6])
	e.SetString("aws.route53.edge_location", f[7])
	ips := make([]string, 0, 2)
	if s := source(e, f[8]); s != "" {
		ips = append(ips, s)
	}
	if n == 10 {
		e.SetString("aws.route53.edns_client_subnet", f[9])
	}
	if f[4] == "PTR" {
		if ip := reverseIP(name); ip != "" {
			ips = appendNew(ips, ip)
		}
	} else if name != "" {
		e.Set("related.hosts", event.Strings(name))
	}
	if len(ips) > 0 {
		e.Set("related.ip", event.Strings(ips...))
	}
	return e, "", nil
}

// split splits s at single spaces into f and returns the number of fields; more fields than f
// holds are counted but not stored.
func split(s string, f []string) int {
	n := 0
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			if n < len(f) {
				f[n] = s
			}
			return n + 1
		}
		if n < len(f) {
			f[n] = s[:i]
		}
		n++
		s = s[i+1:]
	}
}

// isVersion reports whether s looks like a log format version ("1.0").
func isVersion(s string) bool {
	if len(s) < 3 {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return dot
}

// reverseIP returns the address a reverse lookup name stands for ("4.3.2.1.in-addr.arpa" ->
// "1.2.3.4", nibbles of ip6.arpa -> the IPv6 address), or "" when it is not a whole address.
func reverseIP(name string) string {
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa"):
		parts := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa"), ".")
		if len(parts) != 4 {
			return ""
		}
		s := parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0]
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			return ip.String()
		}
	case strings.HasSuffix(name, ".ip6.arpa"):
		nib := strings.Split(strings.TrimSuffix(name, ".ip6.arpa"), ".")
		if len(nib) != 32 {
			return ""
		}
		var a [16]byte
		for i := 0; i < 32; i++ {
			x, err := strconv.ParseUint(nib[31-i], 16, 8)
			if err != nil || len(nib[31-i]) != 1 {
				return ""
			}
			if i%2 == 0 {
				a[i/2] = byte(x) << 4
			} else {
				a[i/2] |= byte(x)
			}
		}
		return netip.AddrFrom16(a).String()
	}
	return ""
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// member appends "key":"value" to a JSON object being built (nothing for an empty value).
func member(b []byte, sep bool, key, value string) ([]byte, bool) {
	if value == "" {
		return b, sep
	}
	if sep {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value), true
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\\ufffd"...)
			} else {
				b = append(b, s[i:i+size]...)
				i += size - 1
			}
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
