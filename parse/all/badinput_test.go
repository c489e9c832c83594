package all_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

func run(t *testing.T, name, typ string, data []byte) ([]*event.Event, []*parse.Reject, parse.Stats, error) {
	t.Helper()
	var evs []*event.Event
	var rejs []*parse.Reject
	st, err := parse.Object(context.Background(), name, bytes.NewReader(data), parse.Options{Type: typ},
		func(e *event.Event) error { evs = append(evs, e); return nil },
		func(r *parse.Reject) { rejs = append(rejs, r) })
	return evs, rejs, st, err
}

const flowLine = "2 210987654321 eni-0a1b2c3d4e5f60718 203.0.113.12 10.0.1.5 44321 22 6 1 40 1700000000 1700000060 REJECT OK\n"

// A gzip object cut short: the records before the cut come out, then an error that names the
// codec and the offset.
func TestTruncatedGzip(t *testing.T) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	for i := 0; i < 20000; i++ {
		w.Write([]byte(flowLine))
	}
	w.Close()
	cut := z.Bytes()[:z.Len()/2]
	evs, _, st, err := run(t, "AWSLogs/210987654321/vpcflowlogs/us-east-1/2026/03/01/f.log.gz", "", cut)
	if err == nil || !strings.Contains(err.Error(), "gzip") || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("error %v", err)
	}
	if len(evs) == 0 || len(evs) >= 20000 || st.Events != len(evs) {
		t.Errorf("%d events before the cut (stats %+v)", len(evs), st)
	}
}

// A 100 MB line among good lines costs that line only, and is never held whole in memory.
func TestHundredMegabyteLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(flowLine)
	b.WriteString(strings.Repeat("x", 100<<20))
	b.WriteString("\n")
	b.WriteString(flowLine)
	evs, rejs, _, err := run(t, "flow.log", "vpcflow", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || len(rejs) != 1 || rejs[0].Reason != "too_long" || rejs[0].Line != 2 || len(rejs[0].Raw) > parse.MaxRejectRaw {
		t.Fatalf("events %d, rejects %+v", len(evs), rejs)
	}
	if evs[1].Original != strings.TrimSuffix(flowLine, "\n") {
		t.Errorf("the line after the long one: %q", evs[1].Original)
	}
}

// Binary junk of every type: no panic, every record accounted for.
func TestBinaryJunkEveryType(t *testing.T) {
	junk := []byte("\x00\x01\x02\xff\xfe{\"a\":\n\x89PNG\r\n\x1a\n[[[[\"\x00")
	for _, typ := range parse.Names() {
		evs, _, st, _ := run(t, "junk.bin", typ, junk)
		if st.Records != st.Events+st.Rejected+st.Skipped || len(evs) != st.Events {
			t.Errorf("%s: stats do not add up: %+v", typ, st)
		}
	}
}
