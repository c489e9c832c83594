// Package cloudfront parses Amazon CloudFront standard (access) logs.
//
// A log file is W3C extended format: "#Version:" and "#Fields:" header lines, then one request per
// line with tab-separated fields, "-" for "no value". The columns are those the #Fields: line names,
// in its order; any subset or order is read (standard logging v2 lets users pick fields), and a file
// without a header is read with the 33 documented legacy columns. A line may lack trailing columns
// (they are absent), and columns past the header's are ignored. Fields ramen does not know are kept as
// text under aws.cloudfront.<name>, the name in snake case ("cs(Accept-Encoding)" becomes
// cs_accept_encoding).
//
// The mapping follows Elastic's aws.cloudfront_logs pipeline: date and time make @timestamp, c-ip is
// source.ip/address, x-host-header is destination.address/domain and url.domain, cs-protocol is
// network.protocol and url.scheme, url.full is rebuilt from them and cs-uri-stem/cs-uri-query,
// x-edge-request-id is event.id and http.request.id, sc-bytes is http.response.bytes and sc-content-len
// http.response.body.bytes, x-forwarded-for is network.forwarded_ip (its %XX escapes decoded: it holds addresses only), the edge result types, location,
// cookies, content type and field-level encryption fields go under aws.cloudfront.*. Values are
// URL-encoded by CloudFront; like Elastic, only the user agent is decoded (user_agent.original), the
// path, query, referrer and cookies stay as logged so that nothing is lost or made ambiguous. Our
// additions: event.duration from time-taken (Elastic parses it but drops it), related.ip only holds
// values that are IP addresses. Not produced: url.registered_domain/subdomain/top_level_domain (they
// need the public suffix list) and the user agent parts (name, os, device).
package cloudfront

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/parse/internal/text"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

const typeName = "cloudfront"

func init() {
	parse.Register(&parse.Type{
		Name:      typeName,
		Title:     "Amazon CloudFront standard logs",
		Dataset:   "aws.cloudfront",
		Parse:     Parse,
		MatchName: MatchName,
		Sniff:     Sniff,
		Aliases:   aliases,
	})
}

// nameRE matches the object names CloudFront gives standard log files:
// [prefix]<distribution ID>.YYYY-MM-DD-HH.<unique ID>.gz.
var nameRE = regexp.MustCompile(`[A-Z0-9]{8,20}\.\d{4}-\d\d-\d\d-\d\d\.[A-Za-z0-9]{4,32}(\.gz)?$`)

// MatchName reports whether an object name follows the CloudFront standard log naming pattern.
func MatchName(name string) bool {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	return nameRE.MatchString(name)
}

var sniffLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\t[A-Z]{3}[0-9A-Za-z-]*\t\d+\t[0-9a-fA-F.:]+\t`)

// Sniff recognises a CloudFront log by its W3C header naming CloudFront's own x-edge fields (other
// W3C logs, such as IIS, have #Fields: too), or a header-less first line of the legacy layout.
func Sniff(head []byte) bool {
	if bytes.HasPrefix(head, []byte("#Version:")) || bytes.HasPrefix(head, []byte("#Fields:")) {
		i := bytes.Index(head, []byte("#Fields:"))
		if i < 0 {
			return false
		}
		line := head[i:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		return bytes.Contains(line, []byte("x-edge-request-id")) || bytes.Contains(line, []byte("x-edge-location")) ||
			bytes.Contains(line, []byte("x-edge-result-type"))
	}
	return sniffLine.Match(head)
}

// Known columns. Each W3C field name maps to one of these; others are colOther.
const (
	colOther = iota
	colDate
	colTime
	colTimestamp   // epoch seconds (standard logging v2, real-time logs)
	colTimestampMS // epoch milliseconds
	colEdgeLocation
	colSCBytes
	colCIP
	colCSMethod
	colCSHost
	colURIStem
	colStatus
	colReferer
	colUserAgent
	colURIQuery
	colCookie
	colEdgeResultType
	colRequestID
	colHostHeader
	colProtocol
	colCSBytes
	colTimeTaken
	colForwardedFor
	colSSLProtocol
	colSSLCipher
	colEdgeResponseResultType
	colProtocolVersion
	colFLEStatus
	colFLEEncryptedFields
	colCPort
	colTimeToFirstByte
	colEdgeDetailedResultType
	colContentType
	colContentLen
	colRangeStart
	colRangeEnd
	nCols
)

var colByName = map[string]int{
	"date":                        colDate,
	"time":                        colTime,
	"timestamp":                   colTimestamp,
	"timestamp(ms)":               colTimestampMS,
	"x-edge-location":             colEdgeLocation,
	"sc-bytes":                    colSCBytes,
	"c-ip":                        colCIP,
	"cs-method":                   colCSMethod,
	"cs(Host)":                    colCSHost,
	"cs-uri-stem":                 colURIStem,
	"sc-status":                   colStatus,
	"cs(Referer)":                 colReferer,
	"cs(User-Agent)":              colUserAgent,
	"cs-uri-query":                colURIQuery,
	"cs(Cookie)":                  colCookie,
	"x-edge-result-type":          colEdgeResultType,
	"x-edge-request-id":           colRequestID,
	"x-host-header":               colHostHeader,
	"cs-protocol":                 colProtocol,
	"cs-bytes":                    colCSBytes,
	"time-taken":                  colTimeTaken,
	"x-forwarded-for":             colForwardedFor,
	"ssl-protocol":                colSSLProtocol,
	"ssl-cipher":                  colSSLCipher,
	"x-edge-response-result-type": colEdgeResponseResultType,
	"cs-protocol-version":         colProtocolVersion,
	"fle-status":                  colFLEStatus,
	"fle-encrypted-fields":        colFLEEncryptedFields,
	"c-port":                      colCPort,
	"time-to-first-byte":          colTimeToFirstByte,
	"x-edge-detailed-result-type": colEdgeDetailedResultType,
	"sc-content-type":             colContentType,
	"sc-content-len":              colContentLen,
	"sc-range-start":              colRangeStart,
	"sc-range-end":                colRangeEnd,
}

// defaultFields is the documented layout of a standard log, used when a file has no #Fields: line.
var defaultFields = strings.Fields(`date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status
cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol
cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version
fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type
sc-content-len sc-range-start sc-range-end`)

// aliases maps the W3C field names to the keys that hold them.
var aliases = map[string]string{
	"date":                        "@timestamp",
	"time":                        "@timestamp",
	"timestamp":                   "@timestamp",
	"x-edge-location":             "aws.cloudfront.edge_location",
	"sc-bytes":                    "http.response.bytes",
	"c-ip":                        "source.ip",
	"cs-method":                   "http.request.method",
	"cs(Host)":                    "aws.cloudfront.domain",
	"cs-uri-stem":                 "url.path",
	"sc-status":                   "http.response.status_code",
	"cs(Referer)":                 "http.request.referrer",
	"cs(User-Agent)":              "user_agent.original",
	"cs-uri-query":                "url.query",
	"cs(Cookie)":                  "aws.cloudfront.cookies",
	"x-edge-result-type":          "aws.cloudfront.edge_result_type",
	"x-edge-request-id":           "http.request.id",
	"x-host-header":               "destination.domain",
	"cs-protocol":                 "network.protocol",
	"cs-bytes":                    "http.request.bytes",
	"time-taken":                  "event.duration",
	"x-forwarded-for":             "network.forwarded_ip",
	"ssl-protocol":                "tls.version",
	"ssl-cipher":                  "tls.cipher",
	"x-edge-response-result-type": "aws.cloudfront.edge_response_result_type",
	"cs-protocol-version":         "http.version",
	"fle-status":                  "aws.cloudfront.fle_status",
	"fle-encrypted-fields":        "aws.cloudfront.fle_encrypted_fields",
	"c-port":                      "source.port",
	"time-to-first-byte":          "aws.cloudfront.time_to_first_byte",
	"x-edge-detailed-result-type": "aws.cloudfront.edge_detailed_result_type",
	"sc-content-type":             "aws.cloudfront.content_type",
	"sc-content-len":              "http.response.body.bytes",
	"sc-range-start":              "aws.cloudfront.range_start",
	"sc-range-end":                "aws.cloudfront.range_end",
}

// layout is the column order of the lines that follow a #Fields: line.
type layout struct {
	cols  []int    // column index -> col* code
	other []string // column index -> aws.cloudfront.* key, for colOther columns
	need  int      // the fewest columns a line must have
}

func newLayout(names []string) *layout {
	l := &layout{cols: make([]int, len(names)), other: make([]string, len(names))}
	for i, n := range names {
		c, ok := colByName[n]
		if !ok {
			// Real-time log and v2 names for the same fields.
			c = colByName[strings.ToLower(n)]
		}
		l.cols[i] = c
		if c == colOther {
			l.other[i] = "aws.cloudfront." + snake(n)
		}
	}
	l.need = min(len(names), 12)
	return l
}

// snake turns a W3C field name into a key segment: "cs(Accept-Encoding)" -> "cs_accept_encoding".
func snake(n string) string {
	var b strings.Builder
	under := false
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteByte(c)
		default:
			under = true
		}
	}
	if b.Len() == 0 {
		return "field"
	}
	return b.String()
}

var defaultLayout = newLayout(defaultFields)

var (
	catWeb    = []string{"web"}
	typAccess = []string{"access"}
)

// eventCap is room for the fields of a full standard log line, plus those parse.Input.Emit adds.
const eventCap = 48 + 8

// Parse reads a CloudFront standard log object.
func Parse(ctx context.Context, in *parse.Input) error {
	lines := in.Lines()
	lay := defaultLayout
	headers, records := 0, 0
	for n := 0; ; n++ {
		if n&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, tooLong := lines.Next()
		if !ok {
			break
		}
		if tooLong != nil {
			records++
			in.Reject(lines.Line(), 0, lines.Offset(), "too_long", tooLong, nil)
			continue
		}
		b := lines.Bytes()
		if len(b) == 0 || text.Blank(b) {
			continue
		}
		if b[0] == '#' {
			headers++
			if f, ok := bytes.CutPrefix(b, []byte("#Fields:")); ok {
				lay = newLayout(strings.Fields(string(f)))
			}
			continue
		}
		records++
		e, err := parseLine(string(b), lay)
		if err != nil {
			reason := parse.ReasonOf(err, "fields")
			in.Reject(lines.Line(), 0, lines.Offset(), reason, err, b)
			continue
		}
		if err := in.Emit(e, lines.Offset()); err != nil {
			return err
		}
	}
	if err := lines.Err(); err != nil {
		return err
	}
	if records == 0 && headers > 0 {
		in.Skip() // a log file with its header and no requests
	}
	return nil
}

func isDash(s string) bool { return s == "" || s == "-" }

// addStr adds a text field unless it is empty or "-". Each key is set once per record, so Add (no
// duplicate search) is used rather than Set.
func addStr(e *event.Event, key, s string) {
	if !isDash(s) {
		e.Add(key, event.String(s))
	}
}

func parseLine(line string, lay *layout) (*event.Event, error) {
	// v[code] is the value of each known column; extra holds the unknown ones by column index.
	var v [nCols]string
	n := 0
	hasOther := false
	for s := line; ; n++ {
		i := strings.IndexByte(s, '\t')
		f := s
		if i >= 0 {
			f = s[:i]
		}
		if n < len(lay.cols) {
			if c := lay.cols[n]; c != colOther {
				v[c] = f
			} else {
				hasOther = true
			}
		}
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	n++
	if n < lay.need {
		return nil, parse.Rejectf("fields", "CloudFront log line has %d fields, want at least %d", n, lay.need)
	}

	var t time.Time
	switch {
	case v[colDate] != "" && v[colTime] != "":
		var ok bool
		if t, ok = parseDateTime(v[colDate], v[colTime]); !ok {
			return nil, parse.Rejectf("time", "fields date and time: not a YYYY-MM-DD HH:MM:SS time: %q %q", text.Clip(v[colDate]), text.Clip(v[colTime]))
		}
	case v[colTimestamp] != "":
		f, err := strconv.ParseFloat(v[colTimestamp], 64)
		if err != nil || !(f >= 0 && f < 1e11) {
			return nil, parse.Rejectf("time", "field timestamp: not epoch seconds: %q", text.Clip(v[colTimestamp]))
		}
		t = time.Unix(0, int64(f*1e9)).UTC().Truncate(time.Millisecond)
	case v[colTimestampMS] != "":
		ms, err := strconv.ParseInt(v[colTimestampMS], 10, 64)
		if err != nil || ms < 0 || ms > 1e14 {
			return nil, parse.Rejectf("time", "field timestamp(ms): not epoch milliseconds: %q", text.Clip(v[colTimestampMS]))
		}
		t = time.UnixMilli(ms).UTC()
	default:
		return nil, parse.Rejectf("time", "no date and time fields")
	}

	// Numbers first, so that a bad one rejects the line before any allocation.
	var nums [6]int64
	for i, c := range [...]int{colSCBytes, colStatus, colCSBytes, colCPort, colContentLen, colRangeStart} {
		x, err := integer(c, v[c])
		if err != nil {
			return nil, err
		}
		nums[i] = x
	}
	scBytes, status, csBytes, cPort, contentLen, rangeStart := nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]
	rangeEnd, err := integer(colRangeEnd, v[colRangeEnd])
	if err != nil {
		return nil, err
	}
	timeTaken, err := float(colTimeTaken, v[colTimeTaken])
	if err != nil {
		return nil, err
	}
	ttfb, err := float(colTimeToFirstByte, v[colTimeToFirstByte])
	if err != nil {
		return nil, err
	}

	e := event.New(typeName, line, eventCap)
	e.Timestamp = t
	e.Add("event.kind", event.String("event"))
	e.Add("event.category", event.Strings(catWeb...))
	e.Add("event.type", event.Strings(typAccess...))

	addStr(e, "aws.cloudfront.edge_location", v[colEdgeLocation])
	if scBytes >= 0 {
		e.Add("http.response.bytes", event.IntIn(scBytes, v[colSCBytes]))
	}
	ip := v[colCIP]
	if !isDash(ip) {
		s := event.String(ip)
		e.Add("source.address", s)
		e.Add("source.ip", s)
		if strings.IndexByte(ip, ':') >= 0 {
			e.Add("network.type", event.String("ipv6"))
		} else {
			e.Add("network.type", event.String("ipv4"))
		}
	}
	if cPort >= 0 {
		e.Add("source.port", event.IntIn(cPort, v[colCPort]))
	}
	addStr(e, "http.request.method", v[colCSMethod])
	host, hostHeader := v[colCSHost], v[colHostHeader]
	addStr(e, "aws.cloudfront.domain", host)
	if !isDash(hostHeader) {
		s := event.String(hostHeader)
		e.Add("destination.address", s)
		e.Add("destination.domain", s)
		e.Add("url.domain", s)
	}
	switch {
	case !isDash(hostHeader) && !isDash(host) && host != hostHeader:
		e.Add("related.hosts", event.Strings(hostHeader, host))
	case !isDash(hostHeader):
		e.Add("related.hosts", event.Strings(hostHeader))
	case !isDash(host):
		e.Add("related.hosts", event.Strings(host))
	}
	proto, path, query := v[colProtocol], v[colURIStem], v[colURIQuery]
	if !isDash(proto) {
		s := event.String(proto)
		e.Add("network.protocol", s)
		e.Add("url.scheme", s)
	}
	if !isDash(path) {
		text.AddPath(e, path)
	}
	addStr(e, "url.query", query)
	if full := urlFull(proto, hostHeader, path, query); full != "" {
		e.Add("url.full", event.String(full))
	}
	if status >= 0 {
		e.Add("http.response.status_code", event.IntIn(status, v[colStatus]))
		if status == 0 || status >= 400 {
			e.Add("event.outcome", event.String("failure"))
		} else {
			e.Add("event.outcome", event.String("success"))
		}
	}
	addStr(e, "http.request.referrer", v[colReferer])
	if ua := v[colUserAgent]; !isDash(ua) {
		e.Add("user_agent.original", event.String(unescape(ua)))
	}
	addStr(e, "aws.cloudfront.cookies", v[colCookie])
	addStr(e, "aws.cloudfront.edge_result_type", v[colEdgeResultType])
	if id := v[colRequestID]; !isDash(id) {
		s := event.String(id)
		e.Add("http.request.id", s)
		e.Add("event.id", s)
	}
	if csBytes >= 0 {
		e.Add("http.request.bytes", event.IntIn(csBytes, v[colCSBytes]))
	}
	if timeTaken >= 0 {
		e.Add("event.duration", event.Int(int64(timeTaken*1e9+0.5)))
	}
	if xff := v[colForwardedFor]; !isDash(xff) {
		fwd := splitForwarded(unescape(xff))
		e.Add("network.forwarded_ip", event.Strings(fwd...))
		rel := make([]string, 0, len(fwd)+1)
		for _, a := range fwd {
			if _, err := netip.ParseAddr(a); err == nil {
				rel = append(rel, a)
			}
		}
		if !isDash(ip) {
			rel = append(rel, ip)
		}
		if len(rel) > 0 {
			e.Add("related.ip", event.Strings(rel...))
		}
	} else if !isDash(ip) {
		e.Add("related.ip", event.Strings(ip))
	}
	if p := v[colSSLProtocol]; !isDash(p) {
		if name, version, ok := text.TLSVersion(p); ok {
			e.Add("tls.version", event.String(version))
			e.Add("tls.version_protocol", event.String(name))
		} else {
			e.Add("aws.cloudfront.ssl_protocol", event.String(p))
		}
	}
	addStr(e, "tls.cipher", v[colSSLCipher])
	addStr(e, "aws.cloudfront.edge_response_result_type", v[colEdgeResponseResultType])
	if pv := v[colProtocolVersion]; !isDash(pv) {
		if len(pv) > 5 && strings.EqualFold(pv[:5], "HTTP/") {
			e.Add("http.version", event.String(pv[5:]))
		} else {
			e.Add("aws.cloudfront.protocol_version", event.String(pv))
		}
	}
	addStr(e, "aws.cloudfront.fle_status", v[colFLEStatus])
	addStr(e, "aws.cloudfront.fle_encrypted_fields", v[colFLEEncryptedFields])
	if ttfb >= 0 {
		e.Add("aws.cloudfront.time_to_first_byte", event.Float(ttfb))
	}
	addStr(e, "aws.cloudfront.edge_detailed_result_type", v[colEdgeDetailedResultType])
	addStr(e, "aws.cloudfront.content_type", v[colContentType])
	if contentLen >= 0 {
		e.Add("http.response.body.bytes", event.IntIn(contentLen, v[colContentLen]))
	}
	if rangeStart >= 0 {
		e.Add("aws.cloudfront.range_start", event.IntIn(rangeStart, v[colRangeStart]))
	}
	if rangeEnd >= 0 {
		e.Add("aws.cloudfront.range_end", event.IntIn(rangeEnd, v[colRangeEnd]))
	}
	if hasOther {
		addOther(e, line, lay)
	}
	return e, nil
}

// addOther adds the columns ramen has no mapping for, as text under aws.cloudfront.<name>.
func addOther(e *event.Event, line string, lay *layout) {
	for n, s := 0, line; n < len(lay.cols); n++ {
		i := strings.IndexByte(s, '\t')
		f := s
		if i >= 0 {
			f = s[:i]
		}
		if lay.cols[n] == colOther {
			if _, dup := e.Get(lay.other[n]); !dup {
				addStr(e, lay.other[n], f)
			}
		}
		if i < 0 {
			return
		}
		s = s[i+1:]
	}
}

var colNames = func() map[int]string {
	m := make(map[int]string, len(colByName))
	for n, c := range colByName {
		m[c] = n
	}
	return m
}()

// integer parses a non-negative integer column; "-" and "" give -1.
func integer(col int, s string) (int64, error) {
	if isDash(s) {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, parse.Rejectf("number", "field %s: not a number: %q", colNames[col], text.Clip(s))
	}
	return n, nil
}

// float parses a non-negative number column; "-" and "" give -1.
func float(col int, s string) (float64, error) {
	if isDash(s) {
		return -1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f < 1e12) { // also refuses NaN and infinities
		return 0, parse.Rejectf("number", "field %s: not a number: %q", colNames[col], text.Clip(s))
	}
	return f, nil
}

// urlFull rebuilds the request URL the way Elastic does: protocol://host-header/path?query. Without
// the protocol or the host (a custom field selection) there is no full URL.
func urlFull(proto, host, path, query string) string {
	if isDash(proto) || isDash(host) {
		return ""
	}
	var b strings.Builder
	b.Grow(len(proto) + 3 + len(host) + len(path) + 1 + len(query))
	b.WriteString(proto)
	b.WriteString("://")
	b.WriteString(host)
	if !isDash(path) {
		b.WriteString(path)
	}
	if !isDash(query) {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

// splitForwarded splits x-forwarded-for ("a,b" or "a, b").
func splitForwarded(s string) []string {
	l := make([]string, 0, 1+strings.Count(s, ","))
	for s != "" {
		item := s
		if i := strings.IndexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if item = strings.TrimSpace(item); item != "" {
			l = append(l, item)
		}
	}
	return l
}

// unescape decodes %XX escapes once ("+" stays "+"); an invalid escape is kept as it is.
func unescape(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// parseDateTime parses "2019-12-04" and "21:02:31" as UTC without allocating.
func parseDateTime(d, t string) (time.Time, bool) {
	if len(d) != 10 || d[4] != '-' || d[7] != '-' || len(t) < 8 || t[2] != ':' || t[5] != ':' {
		return time.Time{}, false
	}
	year, ok1 := text.Num(d[0:4])
	month, ok2 := text.Num(d[5:7])
	day, ok3 := text.Num(d[8:10])
	hour, ok4 := text.Num(t[0:2])
	minute, ok5 := text.Num(t[3:5])
	sec, ok6 := text.Num(t[6:8])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := t[8:]; rest != "" {
		if rest[0] != '.' || len(rest) == 1 {
			return time.Time{}, false
		}
		scale := 100000000
		for i := 1; i < len(rest); i++ {
			if rest[i] < '0' || rest[i] > '9' {
				return time.Time{}, false
			}
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
	}
	tm := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if tm.Day() != day {
		return time.Time{}, false
	}
	return tm, true
}
