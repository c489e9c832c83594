// Package vpcflow parses Amazon VPC Flow Logs (and transit gateway flow logs) in their plain-text
// form into ECS events.
//
// A flow log record is one line of space-separated fields; "-" means no value. What the fields are
// depends on the flow log's format:
//
//   - An object that starts with a header line of field names ("version account-id interface-id
//     srcaddr ...", as AWS writes at the top of every S3 object) is read with those fields, in that
//     order: any custom format of the version 2 to 8 fields, the transit gateway (version 6) fields, and
//     field names this package does not know (kept as aws.vpcflow.<name>). A header line later in the
//     stream (objects joined together) switches to its format.
//   - Without a header (records that went through CloudWatch Logs), the format is told by the number
//     of fields: 14 is the default format (version 2). 29, 39 and 40 are "all fields of versions 2 to
//     5, 7 or 8 in the documentation's order" and 36 the transit gateway default format; Elastic's
//     integration reads those the same way. Any other count is rejected with both counts in the
//     message: a custom format cannot be guessed, it needs its header line.
//   - A leading RFC 3339 timestamp (what a CloudWatch Logs export to S3 puts before each message) is
//     ignored.
//
// NODATA and SKIPDATA records are events like the others, with the fields they have. The Parquet
// delivery format is not read by this package: such an object ends with a clear error, not a flood of
// rejected lines.
//
// The mapping follows Elastic's AWS integration: @timestamp and event.end from end, event.start from
// start, source/destination address, ip and port, network.iana_number and network.transport,
// source.bytes/packets copied to network.bytes/packets (a flow record counts one direction), network.type
// from the address family, network.direction from flow-direction, event.action and event.outcome
// (success/failure) from action, event.reason from reject-reason, cloud.region and
// cloud.availability_zone from region and az-id, cloud.instance.id from instance-id, ECS task fields
// under orchestrator.* and service.name, and the rest under aws.vpcflow.* (snake_case). Deliberate
// differences: event.type is ["connection","allowed"] or ["connection","denied"] for every record
// with an action (Elastic does that only for its v7/v8 layout); "-" is never stored (Elastic keeps a
// "-" region and availability zone); related.ip also holds pkt-srcaddr/pkt-dstaddr when they differ
// from srcaddr/dstaddr (the client behind a NAT or transit gateway interface), without duplicates;
// srcaddr and dstaddr must be IP addresses and numbers must be numbers, or the record is rejected.
//
// Speed: the hot path takes one string of the line (event.original) and substrings of it for every
// field, parses numbers and addresses on those substrings, and uses static tables for protocol names,
// TCP flag lists and category lists: no maps, regexps or fmt per record. The Event, its fields and
// its related.ip list come from chunks shared by many events (parse/internal/slab), so that a record
// costs two allocations of its own: the line's string and the id.
package vpcflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/slab"
)

// Name is the log type's name.
const Name = "vpcflow"

func init() {
	parse.Register(&parse.Type{
		Name:       Name,
		Title:      "Amazon VPC Flow Logs",
		Dataset:    "aws.vpcflow",
		Parse:      Parse,
		Services:   []string{"vpcflowlogs"},
		MatchName:  matchName,
		Sniff:      sniff,
		SniffOrder: 20,
		Aliases:    aliases,
	})
}

// nameRE matches the names AWS gives flow log objects in S3:
// <account>_vpcflowlogs_<region>_<flow-log-id>_<yyyymmddThhmmZ>_<hash>.log.gz (Parquet objects end in
// .log.parquet and are not matched: this package does not read them).
var nameRE = regexp.MustCompile(`^\d{12}_vpcflowlogs_[a-z0-9-]+_fl-[0-9a-z]+_\d{8}T\d{4}Z_[0-9a-z]+\.log(\.gz|\.zst)?$`)

func matchName(name string) bool {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return nameRE.MatchString(name)
}

// sniff recognises a header line of flow log field names, or a first line that is a record of a
// format known without a header and whose log-status field is one of the three AWS writes.
func sniff(head []byte) bool {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	line := strings.TrimSpace(string(head))
	if line == "" {
		return false
	}
	if cols, ok := headerColumns(line); ok {
		return len(cols) >= 3 // a custom format of one or two fields is too little to tell
	}
	var (
		toks [maxFields]string
		sp   [maxFields]span
	)
	n := split(line, sp[:], toks[:])
	f := toks[:min(n, maxFields)]
	if len(f) > 0 && skipExportTime(f[0]) {
		f, n = f[1:], n-1
	}
	l := headerlessLayout(n)
	if l == nil {
		return false
	}
	switch f[l.status] {
	case "OK", "NODATA", "SKIPDATA":
	default:
		return false
	}
	_, err := strconv.ParseUint(f[0], 10, 8) // version
	return err == nil
}

// maxFields bounds the fields of one record (AWS documents 63 today); more are counted, not kept.
const maxFields = 128

// split cuts s at runs of spaces into toks and returns the number of fields (which may exceed
// len(toks): the extra ones are counted only). sp is room for the fields' bounds, as long as toks.
// (Parse works on the bounds themselves and makes a field's substring when it reads it.)
func split(s string, sp []span, toks []string) int {
	n := bounds(s, sp)
	for i := range min(n, len(sp)) {
		toks[i] = s[sp[i].lo:sp[i].hi]
	}
	return n
}

// span is where a field of a line starts and ends.
type span struct{ lo, hi int }

// of returns the field of line.
func (b span) of(line string) string { return line[b.lo:b.hi] }

// bounds finds the fields of s, the runs of bytes between spaces, writes where the first len(sp)
// are into sp and returns their number. It looks at eight bytes at a time: a flow record is a
// hundred-odd bytes of short fields, and testing each byte was a tenth of the parse. It writes
// offsets, not substrings: it stores no pointers, which through a slice it cannot know is on the
// stack would each take a write barrier while the collector marks. Its caller makes the substrings.
func bounds(s string, sp []span) int {
	n, start, i := 0, 0, 0
	for ; i+8 <= len(s); i += 8 {
		_ = s[i+7]
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		for m := spaces(w); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3
			if j > start {
				if n < len(sp) {
					sp[n] = span{start, j}
				}
				n++
			}
			start = j + 1
		}
	}
	for ; i < len(s); i++ {
		if s[i] == ' ' {
			if i > start {
				if n < len(sp) {
					sp[n] = span{start, i}
				}
				n++
			}
			start = i + 1
		}
	}
	if start < len(s) {
		if n < len(sp) {
			sp[n] = span{start, len(s)}
		}
		n++
	}
	return n
}

// spaces returns the top bit of every byte of w that is a space, and no other bit.
func spaces(w uint64) uint64 {
	const low7, lo = 0x7f7f7f7f7f7f7f7f, 0x0101010101010101
	x := w ^ ' '*lo // a space is now a zero byte
	// A byte's top bit of t is set unless the byte is zero: adding 0x7f to the low seven bits carries
	// into the top bit when any is set, and never into the next byte.
	t := (x&low7 + low7) | x
	return ^t &^ low7
}

// skipExportTime reports whether t, the first field, is the timestamp a CloudWatch Logs export puts
// before each message ("2021-03-04T05:06:07.000Z").
func skipExportTime(t string) bool {
	if len(t) < 20 || t[4] != '-' || t[10] != 'T' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, t)
	return err == nil
}

// isName reports whether s can be a flow log field name: lower-case letters, digits and '-'.
func isName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// headerColumns reads a header line: every field is a name, and at least the first is a known one
// (which no record value is). Unknown names map to aws.vpcflow.<name>; a repeated name keeps its
// first column.
func headerColumns(line string) ([]column, bool) {
	names := strings.Fields(line)
	if len(names) == 0 {
		return nil, false
	}
	if _, ok := byName[names[0]]; !ok {
		return nil, false
	}
	cols := make([]column, len(names))
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if !isName(n) {
			return nil, false
		}
		c, ok := byName[n]
		if !ok {
			c = column{name: n, key: "aws.vpcflow." + strings.ReplaceAll(n, "-", "_"), op: opString}
		}
		if seen[n] {
			c.op = opSkip
		}
		seen[n] = true
		cols[i] = c
	}
	return cols, true
}

// format is the format records are read with: from a header line, or nil for the header-less ones.
type format struct {
	cols []column
	line int // the header's line number
	size int // sizeOf(cols)
}

// sizeOf is the most fields build can set for these columns.
func sizeOf(cols []column) int {
	n := 6 // kind, category, outcome, type, network.type, related.ip
	for _, c := range cols {
		switch c.op {
		case opSkip:
		case opAccount, opInstance, opSrcAddr, opDstAddr, opProtocol, opPackets, opBytes, opAction, opTCPFlags:
			n += 2
		default:
			n++
		}
	}
	return n
}

// Parse reads one object of flow log records.
func Parse(ctx context.Context, in *parse.Input) error {
	lines := in.Lines()
	var (
		hdr     *format
		sp      [maxFields]span
		records int
		headers int
	)
	sl := in.Slab() // the memory of this object's events
	for {
		ok, tooLong := lines.Next()
		if !ok {
			break
		}
		num, off := lines.Line(), lines.Offset()
		if tooLong != nil {
			records++
			in.Reject(num, 0, off, "too_long", tooLong, nil)
			continue
		}
		b := lines.Bytes()
		if num == 1 && bytes.HasPrefix(b, []byte("PAR1")) {
			return errors.New("this is a flow log in Parquet format, which ramen does not read yet; deliver flow logs as plain text")
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // an empty line is not a record
		}
		if maybeHeader(b) {
			if cols, ok := headerColumns(string(b)); ok {
				if len(cols) > maxFields {
					records++
					in.Reject(num, 0, off, "fields", fmt.Errorf("line %d: a header line of %d fields; a flow log has at most %d", num, len(cols), maxFields), b)
					hdr = &format{line: num} // its records cannot be read either
					continue
				}
				hdr = &format{cols: cols, line: num, size: sizeOf(cols)}
				headers++
				continue
			}
		}
		records++
		line := string(b)
		n := bounds(line, sp[:])
		f := sp[:min(n, maxFields)]
		if len(f) > 0 && skipExportTime(f[0].of(line)) {
			f, n = f[1:], n-1
		}
		if n > len(f) {
			in.Reject(num, 0, off, "fields", fmt.Errorf("line %d: %d fields; a flow log record has at most %d", num, n, maxFields), b)
			continue
		}
		var (
			cols []column
			size int
		)
		if hdr != nil {
			if hdr.cols == nil {
				in.Reject(num, 0, off, "fields", fmt.Errorf("line %d: the header line %d, which this record follows, was rejected", num, hdr.line), b)
				continue
			}
			if n != len(hdr.cols) {
				in.Reject(num, 0, off, "fields", fmt.Errorf("line %d: %d fields, but the header line %d names %d", num, n, hdr.line, len(hdr.cols)), b)
				continue
			}
			cols, size = hdr.cols, hdr.size
		} else {
			l := headerlessLayout(n)
			if l == nil {
				in.Reject(num, 0, off, "fields", fmt.Errorf("line %d: %d fields, but a record without a header line must have the 14 fields of the default format (version 2) "+
					"(or 29, 36, 39 or 40 for the all-fields and transit gateway formats); a custom format needs its header line", num, n), b)
				continue
			}
			cols, size = l.cols, l.size
		}
		e, reason, err := build(sl, line, f, cols, size, &in.Key)
		if err != nil {
			in.Reject(num, 0, off, reason, fmt.Errorf("line %d: %w", num, err), b)
			continue
		}
		if err := in.Emit(e, off); err != nil {
			return err
		}
		if num&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := lines.Err(); err != nil {
		return err
	}
	if records == 0 && headers > 0 {
		in.Skip() // an object with a header and no records (AWS writes them for quiet intervals)
	}
	return nil
}

// maybeHeader reports whether the line's first field is a known field name, which no value is: only
// such lines are tried as a header.
func maybeHeader(b []byte) bool {
	b = bytes.TrimLeft(b, " ")
	if len(b) == 0 || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	_, ok := byName[string(b)] // the conversion in a map index does not allocate
	return ok
}

// fieldError is the error of one field's value.
type fieldError struct {
	name, value, problem string
}

func (e *fieldError) Error() string {
	return "field " + e.name + ": " + strconv.Quote(e.value) + " " + e.problem
}

// build maps one record: f are its fields (bounds in line), cols their meaning, size the most
// fields the event can get (see sizeOf), key what the object's name says (see emitted).
func build(sl *slab.Slab, line string, f []span, cols []column, size int, key *parse.KeyInfo) (*event.Event, string, error) {
	fs := fields{f: sl.Fields(size + emitMost)}
	fs.f = fs.f[:cap(fs.f)]
	// What the fields after the loop depend on, in a struct: the compiler keeps it in memory, where
	// ten variables it would carry in registers through every turn of the loop, spilling and
	// reloading them, cost a tenth of build.
	var r struct {
		src, dst, pktSrc, pktDst, action, family string
		start, end                               time.Time
		hasAccount, hasRegion                    bool
	}
	for i := range cols {
		c, v := &cols[i], f[i].of(line)
		if v == "-" || v == "" || c.op == opSkip {
			continue
		}
		switch c.op {
		case opString:
			fs.add(c.key, event.String(v))
		case opRegion:
			fs.add(c.key, event.String(v))
			r.hasRegion = true
		case opInt:
			n, ok := atoi(v, math.MaxInt64)
			if !ok {
				return nil, "number", &fieldError{c.name, v, "is not a count"}
			}
			fs.add(c.key, event.IntIn(int64(n), v))
		case opAccount:
			fs.add(c.key, event.String(v))
			if v != "unknown" {
				fs.add("cloud.account.id", event.String(v))
				r.hasAccount = true
			}
		case opInstance:
			fs.add(c.key, event.String(v))
			fs.add("cloud.instance.id", event.String(v))
		case opSrcAddr, opDstAddr:
			v4, ok := parseAddr(v)
			if !ok {
				return nil, "address", &fieldError{c.name, v, "is not an IP address"}
			}
			side := "source"
			if c.op == opSrcAddr {
				r.src = v
			} else {
				r.dst, side = v, "destination"
			}
			if r.family == "" || c.op == opSrcAddr {
				r.family = "ipv6"
				if v4 {
					r.family = "ipv4"
				}
			}
			if side == "source" {
				fs.add("source.address", event.String(v))
				fs.add("source.ip", event.String(v))
			} else {
				fs.add("destination.address", event.String(v))
				fs.add("destination.ip", event.String(v))
			}
		case opPktAddr:
			fs.add(c.key, event.String(v))
			if _, ok := parseAddr(v); ok {
				if c.name == "pkt-srcaddr" {
					r.pktSrc = v
				} else {
					r.pktDst = v
				}
			}
		case opSrcPort, opDstPort:
			n, ok := atoi(v, 65535)
			if !ok {
				return nil, "number", &fieldError{c.name, v, "is not a port number"}
			}
			fs.add(c.key, event.IntIn(int64(n), v))
		case opProtocol:
			n, ok := atoi(v, 255)
			if !ok {
				return nil, "number", &fieldError{c.name, v, "is not an IANA protocol number"}
			}
			fs.add("network.iana_number", event.String(v))
			if t := protocols[n]; t != "" {
				fs.add("network.transport", event.String(t))
			}
		case opPackets, opBytes:
			u, ok := atoi(v, math.MaxInt64)
			if !ok {
				return nil, "number", &fieldError{c.name, v, "is not a count"}
			}
			n := event.IntIn(int64(u), v)
			if c.op == opPackets {
				fs.add("source.packets", n)
				fs.add("network.packets", n)
			} else {
				fs.add("source.bytes", n)
				fs.add("network.bytes", n)
			}
		case opStart, opEnd:
			n, ok := atoi(v, maxUnix)
			if !ok {
				return nil, "time", &fieldError{c.name, v, "is not a time in Unix seconds"}
			}
			t := time.Unix(int64(n), 0).UTC()
			fs.add(c.key, event.TimeIn(t, v, event.FormUnix))
			if c.op == opStart {
				r.start = t
			} else {
				r.end = t
			}
		case opAction:
			fs.add(c.key, event.String(v))
			fs.add("event.action", event.String(v))
			r.action = v
		case opTCPFlags:
			n, ok := atoi(v, 65535)
			if !ok {
				return nil, "number", &fieldError{c.name, v, "is not a TCP flags bitmask"}
			}
			fs.add(c.key, event.String(v))
			if l := tcpFlags[n&63]; len(l) > 0 {
				fs.add("aws.vpcflow.tcp_flags_array", event.Strings(l...))
			}
		}
	}
	ts := r.end
	if r.end.IsZero() {
		ts = r.start
	}
	fs.add("event.kind", event.String("event"))
	fs.add("event.category", event.Strings(categoryNetwork...))
	switch r.action {
	case "ACCEPT":
		fs.add("event.outcome", event.String("success"))
		fs.add("event.type", event.Strings(typeAllowed...))
	case "REJECT":
		fs.add("event.outcome", event.String("failure"))
		fs.add("event.type", event.Strings(typeDenied...))
	default:
		fs.add("event.type", event.Strings(typeConnection...))
	}
	if r.family != "" {
		fs.add("network.type", event.String(r.family))
	}
	if ips := related(r.src, r.dst, r.pktSrc, r.pktDst); len(ips) > 0 {
		l := sl.Strings(len(ips))
		for _, ip := range ips {
			l = append(l, ip)
		}
		fs.add("related.ip", event.Strings(l...))
	}
	e := sl.Event()
	e.Type, e.Original, e.Timestamp = Name, line, ts
	// The room Emit needs and no more: the rest goes back to the slab for the next event.
	e.Fields = sl.Trim(fs.f[:fs.n], fs.n+emitted(key, r.hasAccount, r.hasRegion))
	return e, "", nil
}

// emitMost is the most fields parse.Input.Emit adds; emitted tells how many it adds to an event:
// event.dataset, cloud.provider, log.file.path and log.offset, and cloud.account.id and
// cloud.region from the object's key when the record did not have them. (TestEmitRoom checks that
// this stays true.)
const emitMost = 6

func emitted(key *parse.KeyInfo, hasAccount, hasRegion bool) int {
	n := 4
	if key.Account != "" && !hasAccount {
		n++
	}
	if key.Region != "" && !hasRegion {
		n++
	}
	return n
}

// fields collects an event's fields in f, which has room for all of them (see sizeOf). It does not
// look for an earlier field of the same key, as event.Set does: build sets each key once.
type fields struct {
	f []event.Field
	n int
}

func (f *fields) add(k string, v event.Value) {
	// Two stores, not one of a Field: a Field (40 bytes) is too big for the compiler to store word by
	// word, and while the collector marks, storing it whole takes runtime.wbMove's bulk barrier.
	p := &f.f[f.n]
	p.Key = k
	p.Value = v
	f.n++
}

// parseAddr reports whether s is an IP address as netip.ParseAddr reads them, and whether it is an
// IPv4 one. A plain dotted quad, what nearly every flow record holds, is checked here without
// building a netip.Addr; anything else (IPv6, or a quad netip might read otherwise) goes to netip.
func parseAddr(s string) (v4, ok bool) {
	if dottedQuad(s) {
		return true, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false, false
	}
	return a.Is4(), true
}

// dottedQuad reports whether s is four decimal octets of at most 255 without leading zeros,
// separated by dots: a subset of what netip.ParseAddr takes as IPv4.
func dottedQuad(s string) bool {
	if len(s) < 7 || len(s) > 15 {
		return false
	}
	octets, digits, v := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && v == 0 { // a leading zero
				return false
			}
			v = v*10 + int(c-'0')
			digits++
			if v > 255 {
				return false
			}
		case c == '.' && digits > 0 && octets < 3:
			octets++
			digits, v = 0, 0
		default:
			return false
		}
	}
	return octets == 3 && digits > 0
}

// atoi parses a decimal number of at most max, digits only (no sign). It is strconv.ParseUint without
// the error value and the bases, which the hot path does not need.
func atoi(s string, max uint64) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return n, n <= max
}

// maxUnix is the last second an event time can hold (as Unix nanoseconds, in April 2262): a later
// "time" is junk.
const maxUnix = 1<<63/1_000_000_000 - 1

// related returns the distinct addresses of a record: source and destination, then the
// packet-level ones when they differ (the original client behind a NAT gateway or a transit gateway
// interface).
func related(a ...string) []string {
	out := make([]string, 0, len(a)) // on the stack: the caller copies what it keeps
	for i, s := range a {
		if s != "" && !seenBefore(a[:i], s) {
			out = append(out, s)
		}
	}
	return out
}

func seenBefore(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
