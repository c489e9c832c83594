// Package s3access parses Amazon S3 server access logs.
//
// A record is one text line of space-separated fields; the time is in brackets
// ("[06/Feb/2019:00:00:38 +0000]"), the request line, referrer and user agent are in double quotes, and
// "-" stands for "no value" in any field. AWS has added fields at the end of the line over the years
// (host id, signature version, cipher suite, authentication type, host header, TLS version, access
// point ARN, aclRequired, ...) and asks readers to ignore fields they do not know: lines of any age are
// accepted from the user agent on, and unknown trailing fields are ignored.
//
// The mapping follows Elastic's aws.s3access pipeline: every native field is kept under
// aws.s3access.* (numbers as integers), and the ECS fields are derived from them: client.ip/address
// and related.ip from the remote IP, client.user.id from the requester, event.id from the request id,
// event.action from the operation, event.code and event.outcome from the error code, http.* and url.*
// from the request line (the URL keeps its encoding), event.duration from the total time,
// tls.* from the cipher suite and TLS version, cloud.region from the host header, related.user from
// the bucket owner. Additions of ours: source.ip/address (the same address as client.ip, so that
// rules written against source.ip work on S3 logs too), user.id (the requester), and event.type access.
// cloud.region is taken only from a host header label that is a region: Elastic's pattern reads
// "amazonaws" as the region of the legacy global endpoint s3.amazonaws.com.
package s3access

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/parse/internal/text"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

const typeName = "s3access"

func init() {
	parse.Register(&parse.Type{
		Name:      typeName,
		Title:     "Amazon S3 server access logs",
		Dataset:   "aws.s3access",
		Parse:     Parse,
		MatchName: MatchName,
		Sniff:     Sniff,
		Aliases:   aliases,
	})
}

// nameRE matches the object names S3 gives access log files: [prefix]YYYY-mm-DD-HH-MM-SS-<unique>,
// the unique part 16 upper-case hex digits or letters, and no extension. The prefix may be a plain
// string glued to the date, so the name is matched at its end.
var nameRE = regexp.MustCompile(`(^|[^0-9])\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-Z]{16}$`)

// MatchName reports whether an object name follows the S3 server access log naming pattern.
func MatchName(name string) bool {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	return nameRE.MatchString(name)
}

var sniffRE = regexp.MustCompile(`^[0-9a-fA-F]{64} [A-Za-z0-9][A-Za-z0-9._-]* \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] `)

// Sniff recognises the first line of an S3 server access log: a canonical user id, a bucket name and
// the bracketed time.
func Sniff(head []byte) bool {
	return sniffRE.Match(head)
}

// aliases maps the field names of the S3 documentation (and of the Athena table AWS documents) to
// the keys that hold them.
var aliases = map[string]string{
	"bucket_owner":                "aws.s3access.bucket_owner",
	"bucketowner":                 "aws.s3access.bucket_owner",
	"bucket":                      "aws.s3access.bucket",
	"bucket_name":                 "aws.s3access.bucket",
	"time":                        "@timestamp",
	"requestdatetime":             "@timestamp",
	"remote_ip":                   "aws.s3access.remote_ip",
	"remoteip":                    "aws.s3access.remote_ip",
	"requester":                   "aws.s3access.requester",
	"request_id":                  "aws.s3access.request_id",
	"requestid":                   "aws.s3access.request_id",
	"operation":                   "aws.s3access.operation",
	"key":                         "aws.s3access.key",
	"request_uri":                 "aws.s3access.request_uri",
	"requesturi_operation":        "http.request.method",
	"requesturi_key":              "url.original",
	"requesturi_httpprotoversion": "http.version",
	"http_status":                 "aws.s3access.http_status",
	"httpstatus":                  "aws.s3access.http_status",
	"error_code":                  "aws.s3access.error_code",
	"errorcode":                   "aws.s3access.error_code",
	"bytes_sent":                  "aws.s3access.bytes_sent",
	"bytessent":                   "aws.s3access.bytes_sent",
	"object_size":                 "aws.s3access.object_size",
	"objectsize":                  "aws.s3access.object_size",
	"total_time":                  "aws.s3access.total_time",
	"totaltime":                   "aws.s3access.total_time",
	"turn_around_time":            "aws.s3access.turn_around_time",
	"turnaroundtime":              "aws.s3access.turn_around_time",
	"referrer":                    "aws.s3access.referrer",
	"referer":                     "aws.s3access.referrer",
	"user_agent":                  "aws.s3access.user_agent",
	"useragent":                   "aws.s3access.user_agent",
	"version_id":                  "aws.s3access.version_id",
	"versionid":                   "aws.s3access.version_id",
	"host_id":                     "aws.s3access.host_id",
	"hostid":                      "aws.s3access.host_id",
	"signature_version":           "aws.s3access.signature_version",
	"sigv":                        "aws.s3access.signature_version",
	"cipher_suite":                "aws.s3access.cipher_suite",
	"ciphersuite":                 "aws.s3access.cipher_suite",
	"authentication_type":         "aws.s3access.authentication_type",
	"authtype":                    "aws.s3access.authentication_type",
	"host_header":                 "aws.s3access.host_header",
	"endpoint":                    "aws.s3access.host_header",
	"tls_version":                 "aws.s3access.tls_version",
	"tlsversion":                  "aws.s3access.tls_version",
	"access_point_arn":            "aws.s3access.access_point_arn",
	"accesspointarn":              "aws.s3access.access_point_arn",
	"acl_required":                "aws.s3access.acl_required",
	"aclrequired":                 "aws.s3access.acl_required",
}

// Record fields, in order (the bracketed time counts as one).
const (
	fBucketOwner = iota
	fBucket
	fTime
	fRemoteIP
	fRequester
	fRequestID
	fOperation
	fKey
	fRequestURI
	fHTTPStatus
	fErrorCode
	fBytesSent
	fObjectSize
	fTotalTime
	fTurnAround
	fReferrer
	fUserAgent
	fVersionID
	fHostID
	fSigV
	fCipher
	fAuthType
	fHostHeader
	fTLSVersion
	fAccessPoint
	fACLRequired
	nFields
)

// minFields: the oldest records end with the user agent.
const minFields = fUserAgent + 1

// maxFields bounds the fields read; later unknown ones are ignored.
const maxFields = nFields + 8

// eventCap is room for the most fields a record gives, plus those parse.Input.Emit adds.
const eventCap = 56 + 8

var (
	catWeb    = []string{"web"}
	typAccess = []string{"access"}
)

// Parse reads an S3 server access log object.
func Parse(ctx context.Context, in *parse.Input) error {
	lines := in.Lines()
	var buf [maxFields]string
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
			in.Reject(lines.Line(), 0, lines.Offset(), "too_long", tooLong, nil)
			continue
		}
		b := lines.Bytes()
		if text.Blank(b) {
			continue
		}
		e, err := parseLine(string(b), buf[:0])
		if err != nil {
			reason := parse.ReasonOf(err, "fields")
			in.Reject(lines.Line(), 0, lines.Offset(), reason, err, b)
			continue
		}
		if err := in.Emit(e, lines.Offset()); err != nil {
			return err
		}
	}
	return lines.Err()
}

// split cuts a line into fields separated by spaces (a run of spaces counts as one). A field that
// starts with '[' runs to the next ']'; one that starts with a double quote runs to the next double
// quote followed by a space or the end of the line and not escaped by a backslash. Brackets and
// quotes are not part of the field. Fields past cap(out) are dropped.
func split(s string, out []string) ([]string, error) {
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		var f string
		switch s[i] {
		case '"':
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return out, parse.Rejectf("fields", "field %d: unterminated quoted field", len(out)+1)
				}
				j += k
				if (j+1 == len(s) || s[j+1] == ' ') && s[j-1] != '\\' {
					break
				}
				j++
			}
			f = s[i+1 : j]
			i = j + 1
		case '[':
			k := strings.IndexByte(s[i:], ']')
			if k < 0 {
				return out, parse.Rejectf("fields", "field %d: unterminated bracketed field", len(out)+1)
			}
			f = s[i+1 : i+k]
			i += k + 1
		default:
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			f = s[i : i+j]
			i += j
		}
		if len(out) < cap(out) {
			out = append(out, f)
		}
	}
	return out, nil
}

// addStr adds a text field unless it is empty or "-". Each key is set once per record, so Add (no
// duplicate search) is used rather than Set.
func addStr(e *event.Event, key, s string) {
	if s != "" && s != "-" {
		e.Add(key, event.String(s))
	}
}

// integer parses a non-negative integer field; "-" gives -1.
func integer(field, s string) (int64, error) {
	if s == "-" || s == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, parse.Rejectf("number", "field %s: not a number: %q", field, text.Clip(s))
	}
	return n, nil
}

func parseLine(line string, buf []string) (*event.Event, error) {
	f, err := split(line, buf)
	if err != nil {
		return nil, err
	}
	if len(f) < minFields {
		return nil, parse.Rejectf("fields", "S3 access log line has %d fields, want at least %d", len(f), minFields)
	}
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	t, ok := parseTime(f[fTime])
	if !ok {
		return nil, parse.Rejectf("time", "field time: not a [dd/Mon/yyyy:HH:MM:SS +zzzz] time: %q", text.Clip(f[fTime]))
	}
	var nums [6]int64
	for i, x := range [...]struct {
		name string
		i    int
	}{
		{"http_status", fHTTPStatus},
		{"bytes_sent", fBytesSent},
		{"object_size", fObjectSize},
		{"total_time", fTotalTime},
		{"turn_around_time", fTurnAround},
	} {
		if nums[i], err = integer(x.name, f[x.i]); err != nil {
			return nil, err
		}
	}
	status, bytesSent, objectSize, totalTime, turnAround := nums[0], nums[1], nums[2], nums[3], nums[4]

	e := event.New(typeName, line, eventCap)
	e.Timestamp = t
	e.Add("event.kind", event.String("event"))
	e.Add("event.category", event.Strings(catWeb...))
	e.Add("event.type", event.Strings(typAccess...))

	owner := f[fBucketOwner]
	addStr(e, "aws.s3access.bucket_owner", owner)
	if owner != "-" && owner != "" {
		e.Add("related.user", event.Strings(owner))
	}
	addStr(e, "aws.s3access.bucket", f[fBucket])

	if ip := f[fRemoteIP]; ip != "-" && ip != "" {
		s := event.String(ip)
		e.Add("aws.s3access.remote_ip", s)
		e.Add("client.ip", s)
		e.Add("client.address", s)
		e.Add("source.ip", s)
		e.Add("source.address", s)
		e.Add("related.ip", event.Strings(ip))
	}
	if r := f[fRequester]; r != "-" && r != "" {
		s := event.String(r)
		e.Add("aws.s3access.requester", s)
		e.Add("client.user.id", s)
		e.Add("user.id", s)
	}
	if r := f[fRequestID]; r != "-" && r != "" {
		s := event.String(r)
		e.Add("aws.s3access.request_id", s)
		e.Add("event.id", s)
	}
	if op := f[fOperation]; op != "-" && op != "" {
		s := event.String(op)
		e.Add("aws.s3access.operation", s)
		e.Add("event.action", s)
	}
	addStr(e, "aws.s3access.key", f[fKey])
	if r := f[fRequestURI]; r != "-" && r != "" {
		e.Add("aws.s3access.request_uri", event.String(r))
		setRequest(e, r)
	}
	if status >= 0 {
		n := event.IntIn(status, f[fHTTPStatus])
		e.Add("aws.s3access.http_status", n)
		e.Add("http.response.status_code", n)
	}
	if code := f[fErrorCode]; code != "-" && code != "" {
		s := event.String(code)
		e.Add("aws.s3access.error_code", s)
		e.Add("event.code", s)
		e.Add("event.outcome", event.String("failure"))
	} else {
		e.Add("event.outcome", event.String("success"))
	}
	if bytesSent >= 0 {
		n := event.IntIn(bytesSent, f[fBytesSent])
		e.Add("aws.s3access.bytes_sent", n)
		e.Add("http.response.body.bytes", n)
	}
	if objectSize >= 0 {
		e.Add("aws.s3access.object_size", event.IntIn(objectSize, f[fObjectSize]))
	}
	if totalTime >= 0 {
		e.Add("aws.s3access.total_time", event.IntIn(totalTime, f[fTotalTime]))
		e.Add("event.duration", event.Int(totalTime*int64(time.Millisecond)))
	}
	if turnAround >= 0 {
		e.Add("aws.s3access.turn_around_time", event.IntIn(turnAround, f[fTurnAround]))
	}
	if r := f[fReferrer]; r != "-" && r != "" {
		s := event.String(r)
		e.Add("aws.s3access.referrer", s)
		e.Add("http.request.referrer", s)
	}
	if ua := f[fUserAgent]; ua != "-" && ua != "" {
		s := event.String(ua)
		e.Add("aws.s3access.user_agent", s)
		e.Add("user_agent.original", s)
	}
	addStr(e, "aws.s3access.version_id", get(fVersionID))
	addStr(e, "aws.s3access.host_id", get(fHostID))
	addStr(e, "aws.s3access.signature_version", get(fSigV))
	if c := get(fCipher); c != "-" && c != "" {
		s := event.String(c)
		e.Add("aws.s3access.cipher_suite", s)
		e.Add("tls.cipher", s)
	}
	addStr(e, "aws.s3access.authentication_type", get(fAuthType))
	if h := get(fHostHeader); h != "-" && h != "" {
		e.Add("aws.s3access.host_header", event.String(h))
		if r := regionOf(h); r != "" {
			e.Add("cloud.region", event.String(r))
		}
	}
	if v := get(fTLSVersion); v != "-" && v != "" {
		e.Add("aws.s3access.tls_version", event.String(v))
		if name, version, ok := text.TLSVersion(v); ok {
			e.Add("tls.version", event.String(version))
			e.Add("tls.version_protocol", event.String(name))
		}
	}
	addStr(e, "aws.s3access.access_point_arn", get(fAccessPoint))
	addStr(e, "aws.s3access.acl_required", get(fACLRequired))
	return e, nil
}

// setRequest sets http.request.method, url.* and http.version from a request line
// "METHOD /path?query HTTP/1.1" (the version may be missing, as in the GET half of a copy).
func setRequest(e *event.Event, r string) {
	method, rest, ok := strings.Cut(r, " ")
	if !ok {
		return
	}
	addStr(e, "http.request.method", method)
	if j := strings.LastIndexByte(rest, ' '); j >= 0 {
		v := rest[j+1:]
		if len(v) > 5 && strings.EqualFold(v[:5], "HTTP/") {
			e.Add("http.version", event.String(v[5:]))
			rest = rest[:j]
		}
	}
	if rest != "" && rest != "-" {
		setURL(e, rest)
	}
}

// setURL sets url.* from a request target, absolute or (as S3 logs it) a path, the way Elastic's
// uri_parts processor splits it; the query keeps its encoding.
func setURL(e *event.Event, u string) {
	e.Add("url.original", event.String(u))
	rest := u
	if i := strings.Index(rest, "://"); i > 0 && !strings.ContainsAny(rest[:i], "/?#") {
		e.Add("url.scheme", event.String(rest[:i]))
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		host := rest[:end]
		rest = rest[end:]
		if j := strings.LastIndexByte(host, ':'); j >= 0 && !strings.HasSuffix(host, "]") {
			if p, err := strconv.Atoi(host[j+1:]); err == nil && p >= 0 && p <= 65535 {
				e.Add("url.port", event.IntIn(int64(p), host[j+1:]))
			}
			host = host[:j]
		}
		addStr(e, "url.domain", strings.Trim(host, "[]"))
	}
	text.AddURLPath(e, rest)
}

// regionOf finds the region in an S3 endpoint: the first label after one that starts with "s3"
// ("bucket.s3.eu-west-1.amazonaws.com", "s3.dualstack.us-east-1.amazonaws.com") that is a region
// name, or a region glued to an "s3-" label in legacy endpoints ("s3-us-west-2.amazonaws.com",
// "bucket.s3-website-eu-west-1.amazonaws.com").
func regionOf(host string) string {
	seenS3 := false
	for host != "" {
		label := host
		if i := strings.IndexByte(host, '.'); i >= 0 {
			label, host = host[:i], host[i+1:]
		} else {
			host = ""
		}
		if seenS3 && isRegion(label) {
			return label
		}
		if strings.HasPrefix(label, "s3") {
			seenS3 = true
			for i := 2; i < len(label); i++ {
				if label[i] == '-' && isRegion(label[i+1:]) {
					return label[i+1:]
				}
			}
		}
	}
	return ""
}

// isRegion reports whether s looks like an AWS region: two letters, then dash-separated words, the
// last a number of one or two digits ("us-east-1", "us-gov-west-1", "ap-southeast-2").
func isRegion(s string) bool {
	if len(s) < 6 || !lower(s[0]) || !lower(s[1]) || s[2] != '-' {
		return false
	}
	last := strings.LastIndexByte(s, '-')
	if last <= 3 || len(s)-last > 3 || len(s)-last < 2 {
		return false
	}
	for i := last + 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	for i := 3; i < last; i++ {
		if !lower(s[i]) && (s[i] != '-' || s[i-1] == '-') {
			return false
		}
	}
	return true
}

func lower(c byte) bool { return c >= 'a' && c <= 'z' }

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// parseTime parses "06/Feb/2019:00:00:38 +0000" without allocating.
func parseTime(s string) (time.Time, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	month, ok := months[s[3:6]]
	if !ok {
		return time.Time{}, false
	}
	day, ok1 := text.Num(s[0:2])
	year, ok2 := text.Num(s[7:11])
	hour, ok3 := text.Num(s[12:14])
	minute, ok4 := text.Num(s[15:17])
	sec, ok5 := text.Num(s[18:20])
	zh, ok6 := text.Num(s[22:24])
	zm, ok7 := text.Num(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 || zh > 23 || zm > 59 {
		return time.Time{}, false
	}
	offset := (zh*60 + zm) * 60
	switch s[21] {
	case '+':
	case '-':
		offset = -offset
	default:
		return time.Time{}, false
	}
	t := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}
