// Package event defines Event, the one type that every stage of ramen's pipeline passes on: a log record
// normalized to the Elastic Common Schema (ECS), with the original record kept byte-exact beside it.
//
// Fields are stored flat, by their dotted ECS name ("source.ip", "aws.vpcflow.interface_id"), in a
// slice rather than a map: an event has a few dozen fields, a linear scan over them is faster than
// hashing, and building the slice costs one allocation.
package event

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/valyala/fastjson"
)

// Field is one normalized field: its dotted ECS name and its value.
type Field struct {
	Key   string
	Value Value
}

// Event is one normalized log record.
//
// An Event is built by one goroutine (a parser) and may then be read by several, except for Lookup on
// the original record, which parses it lazily and is safe for concurrent use.
type Event struct {
	// ID is stable: the same record of the same object always gets the same ID, so re-ingesting an
	// object can be recognised and duplicates removed. See NewID.
	ID string
	// Timestamp is @timestamp: when the event happened, in UTC.
	Timestamp time.Time
	// Type is the ramen log type that produced the event ("cloudtrail", "vpcflow", ...).
	Type string
	// Original is event.original: the record exactly as it was read, without its line terminator.
	Original string
	// Fields holds every other normalized field, keys unique, in the order the parser set them.
	Fields []Field
	// NativeRoot is the dotted path, inside Original, of the log's own record when Original wraps it
	// (an EventBridge envelope keeps its CloudTrail record under "detail"); native lookups resolve
	// below it. Empty means Original is the record.
	NativeRoot string

	once   sync.Once
	native *fastjson.Value // Original parsed as JSON, or nil when it is not JSON
	tsIn   Value           // Timestamp as read from Original (SetTimestampIn)
}

// SetTimestampIn sets Timestamp to the time v that the parser read from a piece of the record
// (TimeIn): the lake then stores the record with a reference to @timestamp in place of the
// time's text, as it does for fields.
func (e *Event) SetTimestampIn(v Value) {
	e.Timestamp, e.tsIn = v.Time(), v
}

// TimestampIn returns the value SetTimestampIn gave, while Timestamp is still its time.
func (e *Event) TimestampIn() (Value, bool) {
	if e.tsIn.kind != KindTime || !e.tsIn.Time().Equal(e.Timestamp) {
		return Value{}, false
	}
	return e.tsIn, true
}

// New returns an event of the given type with room for n fields.
func New(typ string, original string, n int) *Event {
	return &Event{Type: typ, Original: original, Fields: make([]Field, 0, n)}
}

// Set sets a field, replacing any earlier value of the same key. A null value removes nothing and is
// not stored: absent and null are the same to every consumer.
func (e *Event) Set(key string, v Value) {
	if v.kind == KindNull {
		return
	}
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			e.Fields[i].Value = v
			return
		}
	}
	e.add(key, v)
}

// Add appends a field without looking for an earlier one of the same key: parsers that set each key
// once use it, since Set's search makes building an event quadratic in its field count. A null value
// is not stored.
func (e *Event) Add(key string, v Value) {
	if v.kind == KindNull {
		return
	}
	e.add(key, v)
}

// add appends a field. It stores the key and the value one by one, not a Field at once: a Field (40
// bytes) is too big for the compiler to store word by word, and while the garbage collector marks,
// a whole-struct store goes through runtime.wbMove's bulk barrier, which made appending a field
// several times dearer (a fifth of VPC flow parsing).
func (e *Event) add(key string, v Value) {
	n := len(e.Fields)
	if n == cap(e.Fields) {
		e.grow()
	}
	e.Fields = e.Fields[:n+1]
	f := &e.Fields[n]
	f.Key = key
	f.Value = v
}

// grow makes room for one more field. It is kept out of add, which runs for every field, because
// it is rarely needed: parsers give New the room their events take.
//
//go:noinline
func (e *Event) grow() { e.Fields = slices.Grow(e.Fields, 1) }

// SetString sets a text field unless s is empty or "-" (the way AWS text logs write "no value").
func (e *Event) SetString(key, s string) {
	if s == "" || s == "-" {
		return
	}
	e.Set(key, String(s))
}

// Get returns a normalized field by its dotted ECS name ("@timestamp" included).
func (e *Event) Get(key string) (Value, bool) {
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			return e.Fields[i].Value, true
		}
	}
	switch key {
	case "@timestamp":
		if !e.Timestamp.IsZero() {
			return Time(e.Timestamp), true
		}
	case "event.original":
		return String(e.Original), true
	case "_id":
		return String(e.ID), e.ID != ""
	}
	return Value{}, false
}

// Lookup resolves a dotted path first against the normalized ECS fields and then against the original
// record (when it is JSON), so that rules can use either ECS names ("user.name") or the log's native
// names ("userIdentity.sessionContext.sessionIssuer.type").
func (e *Event) Lookup(path string) (Value, bool) {
	if v, ok := e.Get(path); ok {
		return v, true
	}
	return e.LookupNative(path)
}

// LookupNative resolves a dotted path against the original record only. A JSON key that itself
// contains dots ("detail.service.additionalInfo.sample" vs a key named "a.b") is found too: at each
// level the longest key that matches a prefix of the remaining path wins.
func (e *Event) LookupNative(path string) (Value, bool) {
	e.once.Do(e.parseNative)
	if e.native == nil {
		return Value{}, false
	}
	v := e.native
	if e.NativeRoot != "" {
		if v = walk(v, e.NativeRoot); v == nil {
			return Value{}, false
		}
	}
	v = walk(v, path)
	if v == nil {
		return Value{}, false
	}
	return FromJSON(v), true
}

func (e *Event) parseNative() {
	if len(e.Original) == 0 || (e.Original[0] != '{' && e.Original[0] != '[') {
		return
	}
	v, err := fastjson.Parse(e.Original)
	if err == nil {
		e.native = v
	}
}

func walk(v *fastjson.Value, path string) *fastjson.Value {
	for path != "" {
		if v.Type() != fastjson.TypeObject {
			return nil
		}
		o, _ := v.Object()
		// Try the whole remaining path, then shorter prefixes ending at a dot.
		next := (*fastjson.Value)(nil)
		rest := ""
		for end := len(path); end > 0; {
			if c := o.Get(path[:end]); c != nil {
				next, rest = c, path[end:]
				break
			}
			end = lastDot(path[:end])
		}
		if next == nil {
			return nil
		}
		if rest != "" {
			rest = rest[1:] // the dot
		}
		v, path = next, rest
	}
	return v
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// FromJSON converts a parsed JSON value: strings, numbers (integers stay integers), booleans and null
// map to their kinds, an array of scalars to a list of their texts, and anything else to raw JSON.
func FromJSON(v *fastjson.Value) Value {
	switch v.Type() {
	case fastjson.TypeString:
		return String(string(v.GetStringBytes()))
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return Int(n)
		}
		f, _ := v.Float64()
		return Float(f)
	case fastjson.TypeTrue:
		return Bool(true)
	case fastjson.TypeFalse:
		return Bool(false)
	case fastjson.TypeNull:
		return Value{}
	case fastjson.TypeArray:
		a, _ := v.Array()
		l := make([]string, 0, len(a))
		for _, x := range a {
			switch x.Type() {
			case fastjson.TypeString:
				l = append(l, string(x.GetStringBytes()))
			case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
				l = append(l, x.String())
			default:
				return JSON(EscapeControls(v.String()))
			}
		}
		return Strings(l...)
	}
	return JSON(EscapeControls(v.String()))
}

// EscapeControls makes JSON that a lenient parser wrote back out valid: fastjson accepts raw
// control characters inside strings (JSON does not) and writes them out as they were, which would
// make every JSON output with that value invalid. Such text is compact (no whitespace outside
// strings), so each byte below 0x20 is inside a string, and is written \u00XX. Text without one is
// returned as it is.
func EscapeControls(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// SortFields orders the fields by key, which makes output and golden files deterministic.
func (e *Event) SortFields() {
	sort.Slice(e.Fields, func(i, j int) bool { return e.Fields[i].Key < e.Fields[j].Key })
}

// NewID returns the stable id of a record: a 128-bit hash, in hex, of the log type, the name of the
// object it came from, its byte offset in the (decompressed) object and its bytes. Reading the same
// object again yields the same ids; two identical lines at different places stay two events (a
// repeated syslog line is a real repeat, not a duplicate).
//
// It is SHA-256, not a faster non-cryptographic hash, because records are written by whoever can
// make the logged system log something: nobody must be able to craft a record whose id collides with
// another's and have it dropped as a duplicate.
func NewID(typ, object string, offset int64, original string) string {
	s := ObjectSeed(typ, object)
	return s.ID(offset, original)
}

// A Seed is the part of a record's id that its object gives, hashed once per object: the type and
// the object's name. S3 keys are long; hashing them again for every record was a third of the cost.
type Seed [sha256.Size]byte

// ObjectSeed returns the seed of the records of one object.
func ObjectSeed(typ, object string) Seed {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(object))
	var s Seed
	h.Sum(s[:0])
	return s
}

// ID returns the id of the record at offset with the given bytes (see NewID).
func (s *Seed) ID(offset int64, original string) string {
	var sum [sha256.Size]byte
	if len(original) <= idStack {
		// Most records are lines of a few hundred bytes: they are hashed from a buffer on the
		// stack, which costs less than a pooled one's Get and Put.
		var buf [len(Seed{}) + 8 + idStack]byte
		sum = s.sum(buf[:0], offset, original)
	} else {
		bp := idBufs.Get().(*[]byte)
		b := append((*bp)[:0], s[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(offset))
		b = append(b, original...)
		sum = sha256.Sum256(b)
		if cap(b) <= 64<<10 { // keep small buffers only: one huge record must not pin its size
			*bp = b
			idBufs.Put(bp)
		}
	}
	var h [32]byte
	hexID(&h, &sum)
	return string(h[:])
}

// sum hashes the seed, the offset and the record, appended to b.
func (s *Seed) sum(b []byte, offset int64, original string) [sha256.Size]byte {
	b = append(b, s[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = append(b, original...)
	return sha256.Sum256(b)
}

// idStack is the longest record ID hashes from a buffer on the stack.
const idStack = 256

// idBufs holds the buffers ID hashes longer records from.
var idBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// hexID writes the first 16 bytes of sum in lower-case hex, as hex.Encode does, four bytes at a
// time: every event takes an id, and the byte loop was a tenth of computing one.
func hexID(h *[32]byte, sum *[sha256.Size]byte) {
	const (
		low4 = 0x0f0f0f0f0f0f0f0f
		six  = 0x0606060606060606
		ones = 0x0101010101010101
	)
	for i := 0; i < 4; i++ {
		x := uint64(binary.BigEndian.Uint32(sum[4*i:]))
		// Spread the eight nibbles into eight bytes, the first nibble in the highest byte.
		x = (x | x<<16) & 0x0000ffff0000ffff
		x = (x | x<<8) & 0x00ff00ff00ff00ff
		x = (x<<4 | x) & low4
		// '0' + n, and 'a'-'0'-10 more where n > 9 (n+6 carries into bit 4).
		x += '0'*ones + (x+six)>>4&ones*('a'-'0'-10)
		binary.BigEndian.PutUint64(h[8*i:], x)
	}
}
