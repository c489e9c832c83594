package vpcflow

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, Name) }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, Name) }

// TestConformance compares our ECS fields with Elastic's expected output for its sample logs.
func TestConformance(t *testing.T) {
	parsetest.Conformance(t, Name, "vpcflow", map[string]string{
		"event.type": "Elastic adds \"allowed\"/\"denied\" to [\"connection\"] only for the v7/v8 all-fields layout " +
			"(test-v8-samples) and not for v2/v5 records with the same action; we add it to every record with an action",
		"cloud.region": "Elastic copies a \"-\" region (no value) into cloud.region; we leave it absent (the S3 key's region then fills it)",
	})
}

// TestElasticSamples parses Elastic's transit gateway samples, which have no expected output.
func TestElasticSamples(t *testing.T) {
	parsetest.Examples(t, Name, "elastic/vpcflow/test-tgw-samples.log")
}

// TestAWSExamples parses every flow log example of the Amazon VPC User Guide. The default-format
// examples stand alone; the custom-format examples give the format (a header line) and the records in
// separate blocks, so each block of records is parsed after the header it belongs to, the way AWS
// writes them in one object. The guide's own annotations ("..." for elided lines and "#" comments after
// a record) are taken out first: they are not part of any flow log.
func TestAWSExamples(t *testing.T) {
	const dir = "aws-docs/amazon-vpc-user-guide/extracted_examples"
	n := parsetest.Examples(t, Name, dir+"/flow-logs-records-examples_0[1-7].txt")
	if n != 7 {
		t.Errorf("%d events from the default-format examples, want 7", n)
	}
	root := filepath.Join(parsetest.Fixtures(t), dir)
	read := func(i int) string {
		b, err := os.ReadFile(filepath.Join(root, "flow-logs-records-examples_"+twoDigits(i)+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	comment := regexp.MustCompile(` +#.*`)
	groups := []struct {
		header  int
		records []int
		events  int
	}{
		{8, []int{9, 10, 11}, 8},
		{12, []int{13, 14, 15, 16}, 6},
		{17, []int{18, 19, 20}, 4},
		{21, []int{22}, 2},
	}
	for _, g := range groups {
		hdr := read(g.header)
		if _, ok := headerColumns(strings.TrimSpace(hdr)); !ok {
			t.Fatalf("example %d is not recognised as a header line: %q", g.header, hdr)
		}
		got := 0
		for _, r := range g.records {
			var recs []string
			for _, l := range strings.Split(read(r), "\n") {
				if l = comment.ReplaceAllString(l, ""); l != "..." && l != "" {
					recs = append(recs, l)
				}
			}
			name := "flow-logs-records-examples_" + twoDigits(r) + ".txt"
			evs, rejs, _ := parsetest.Run(t, Name, name, []byte(hdr+strings.Join(recs, "\n")+"\n"), 0)
			for _, rj := range rejs {
				t.Errorf("%s", rj)
			}
			got += len(evs)
		}
		if got != g.events {
			t.Errorf("header example %d: %d events, want %d", g.header, got, g.events)
		}
	}
}

func twoDigits(i int) string {
	s := strconv.Itoa(i)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

// TestDetect checks that flow log objects are recognised by key, by name and by their first bytes,
// and that other objects are not taken.
func TestDetect(t *testing.T) {
	const v2 = "2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 ACCEPT OK\n"
	const hdr = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	cases := []struct {
		name, head string
		want       bool
	}{
		{"s3://logs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/01/02/111122223333_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240102T0005Z_1a2b3c4d.log.gz", "", true},
		{"s3://logs/prefix/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=01/day=02/111122223333_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240102T0005Z_1a2b3c4d.log.gz", "", true},
		{"/tmp/flows.log", hdr + v2, true},
		{"/tmp/flows.log", v2, true},
		{"/tmp/flows.log", "version srcaddr dstaddr action\n3 10.0.0.1 10.0.0.2 ACCEPT\n", true},
		{"/tmp/flows.log", "2024-06-01T12:00:05.000Z " + v2, true},
		{"/tmp/tgw.log", "6 TransitGateway 111122223333 tgw-0f1e2d3c4b5a69788 tgw-attach-0aaa1111bbbb2222c 111122223333 444455556666 vpc-0src1111aaaa2222b vpc-0dst3333cccc4444d subnet-0s1 subnet-0d2 eni-0tgwsrc000000001 eni-0tgwdst000000002 use1-az1 use1-az2 tgw-attach-0ddd3333eeee4444f 10.1.0.5 10.2.0.9 50500 5432 6 30 8800 1720000000 1720000060 OK IPv4 0 0 0 0 18 us-east-1 ingress - -\n", true},
		// not flow logs
		{"/tmp/x.log", `{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}`, false},
		{"/tmp/x.log", "2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 ACCEPT FINE\n", false},
		{"/tmp/x.log", "version 1.2 of something\n", false},
		{"/tmp/x.log", "type\n", false},
		{"/tmp/x.log", "start end\n100 200\n", false},
		{"/tmp/x.log", "1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com A NOERROR UDP FRA6 192.0.2.1 -\n", false},
		{"/tmp/x.log", "Jan  2 03:04:05 host sshd[42]: Accepted publickey for root from 192.0.2.1 port 22 ssh2\n", false},
		{"/tmp/x.log", "", false},
	}
	for _, c := range cases {
		got := parse.Detect(c.name, parse.ParseKey(c.name), []byte(c.head))
		if (got != nil && got.Name == Name) != c.want {
			gn := "nil"
			if got != nil {
				gn = got.Name
			}
			t.Errorf("Detect(%q, %q) = %s, want vpcflow: %v", c.name, c.head, gn, c.want)
		}
	}
}

// TestAliases checks that every native name points at a key the parser sets.
func TestAliases(t *testing.T) {
	typ, ok := parse.Lookup(Name)
	if !ok {
		t.Fatal("not registered")
	}
	for _, n := range []string{"srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end",
		"action", "log-status", "account-id", "interface-id", "instance-id", "tcp-flags", "flow-direction", "log_status", "az-id", "reject-reason"} {
		if typ.Aliases[n] == "" {
			t.Errorf("no alias for %s", n)
		}
	}
	// Every alias target is produced for the all-fields v8 record and the transit gateway record.
	evs, rejs, _ := parsetest.Run(t, Name, "x", []byte(
		"8 111122223333 eni-0ecs00000000000a1 10.3.0.44 198.51.100.80 43210 443 6 9 1322 1730000000 1730000030 REJECT OK vpc-1 subnet-1 i-1 2 IPv4 10.3.0.44 198.51.100.80 ap-southeast-2 apse2-az1 outpost op-1 S3 EC2 egress 8 arn:c c arn:ci ci cid cid2 svc arn:td arn:t t BPA\n"+
			"6 TransitGateway 111122223333 tgw-1 tgw-attach-1 111122223333 444455556666 vpc-1 vpc-2 subnet-1 subnet-2 eni-1 eni-2 use1-az1 use1-az2 tgw-attach-2 10.1.0.5 10.2.0.9 50500 5432 6 30 8800 1720000000 1720000060 OK IPv4 0 0 0 0 18 us-east-1 ingress S3 EC2\n"+
			"interface-id resource-id encryption-status\neni-1 vpce-1 1\n"), 0)
	if len(rejs) > 0 || len(evs) != 3 {
		t.Fatalf("events %d, rejects %v", len(evs), rejs)
	}
	for _, c := range known {
		found := false
		for _, e := range evs {
			if _, ok := e.Get(c.key); ok {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: alias target %s is never set", c.name, c.key)
		}
	}
}

// TestHotPath checks the mapping of one default record exactly, field by field.
func TestHotPath(t *testing.T) {
	evs, rejs, _ := parsetest.Run(t, Name, "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/01/02/f.log", []byte(
		"2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 REJECT OK\n"), 0)
	if len(rejs) > 0 || len(evs) != 1 {
		t.Fatalf("events %d, rejects %v", len(evs), rejs)
	}
	e := evs[0]
	want := map[string]string{
		"@timestamp": "2023-11-14T22:14:15Z", "event.start": "2023-11-14T22:13:20Z", "event.end": "2023-11-14T22:14:15Z",
		"source.ip": "10.0.1.15", "source.port": "49152", "destination.ip": "198.51.100.7", "destination.port": "443",
		"network.transport": "tcp", "network.iana_number": "6", "network.type": "ipv4", "network.bytes": "5830",
		"network.packets": "12", "event.outcome": "failure", "event.type": `["connection","denied"]`,
		"cloud.region": "eu-west-1", "cloud.account.id": "111122223333", "related.ip": `["10.0.1.15","198.51.100.7"]`,
	}
	for k, w := range want {
		v, ok := e.Get(k)
		if !ok || v.Text() != w {
			t.Errorf("%s = %q, want %q", k, v.Text(), w)
		}
	}
	if v, _ := e.Get("source.port"); v.Kind() != event.KindInt {
		t.Errorf("source.port is %s, want int", v.Kind())
	}
}

func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		proto, action := "6", "ACCEPT"
		switch i % 10 {
		case 3:
			proto = "17"
		case 7:
			action = "REJECT"
		}
		sb.WriteString("2 111122223333 eni-0a1b2c3d4e5f6071" + strconv.Itoa(i%10) + " 10.0." + strconv.Itoa(i%256) + "." + strconv.Itoa(i%200+1) +
			" 198.51.100." + strconv.Itoa(i%250+1) + " " + strconv.Itoa(32768+i*7%28000) + " 443 " + proto + " " + strconv.Itoa(i%90+1) + " " +
			strconv.Itoa(i*131%900000+40) + " " + strconv.Itoa(1700000000+i) + " " + strconv.Itoa(1700000055+i) + " " + action + " OK\n")
	}
	data := parsetest.Repeat([]byte(sb.String()), 8<<20)
	parsetest.Bench(b, Name, data)
}

// TestEventsApart checks that the events of one object, whose memory comes from shared chunks, do
// not share fields: what Emit and later stages add to one event must not show up in another.
func TestEventsApart(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 300; i++ { // several chunks
		sb.WriteString("2 111122223333 eni-1 10.0.0." + strconv.Itoa(i%250+1) + " 10.1.0.1 1 2 6 1 1 1700000000 1700000001 ACCEPT OK\n")
	}
	evs, rejs, _ := parsetest.Run(t, Name, "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/01/02/f.log", []byte(sb.String()), 0)
	if len(rejs) > 0 || len(evs) != 300 {
		t.Fatalf("events %d, rejects %v", len(evs), rejs)
	}
	want := len(evs[1].Fields)
	for i, e := range evs {
		e.Add("x.extra."+strconv.Itoa(i), event.Int(int64(i))) // may fit in the event's spare room
		e.Add("x.more", event.Int(1))                          // beyond it: must reallocate, not spill
	}
	seen := map[*event.Event]bool{}
	for i, e := range evs {
		if seen[e] {
			t.Fatalf("event %d is also an earlier one", i)
		}
		seen[e] = true
		if len(e.Fields) != want+2 {
			t.Fatalf("event %d has %d fields, want %d", i, len(e.Fields), want+2)
		}
		if v, ok := e.Get("x.extra." + strconv.Itoa(i)); !ok || v.Int() != int64(i) {
			t.Errorf("event %d lost its own extra field", i)
		}
		if _, ok := e.Get("x.extra." + strconv.Itoa((i+1)%len(evs))); ok {
			t.Errorf("event %d has its neighbour's extra field", i)
		}
		if v, _ := e.Get("source.ip"); v.Str() != "10.0.0."+strconv.Itoa(i%250+1) {
			t.Errorf("event %d: source.ip %q, overwritten", i, v.Str())
		}
		if v, _ := e.Get("related.ip"); len(v.List()) != 2 || v.List()[0] != "10.0.0."+strconv.Itoa(i%250+1) {
			t.Errorf("event %d: related.ip %v, overwritten", i, v.List())
		}
	}
}

// TestEmitRoom checks that build leaves each event room for exactly the fields parse.Input.Emit adds
// (see emitted): with less, Emit's appends would copy the fields elsewhere; with more, memory is
// wasted on every event.
func TestEmitRoom(t *testing.T) {
	const (
		v2     = "2 111122223333 eni-1 10.0.0.1 10.1.0.1 1 2 6 1 1 1700000000 1700000001 ACCEPT OK\n"
		noAcct = "2 unknown eni-1 10.0.0.1 10.1.0.1 1 2 6 1 1 1700000000 1700000001 ACCEPT OK\n"
		withRg = "version account-id srcaddr dstaddr region action\n2 111122223333 10.0.0.1 10.1.0.1 us-west-2 REJECT\n"
		noData = "2 111122223333 eni-1 - - - - - - - 1700000000 1700000001 - NODATA\n"
	)
	for _, name := range []string{
		"plain.log",
		"AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/01/02/f.log",
	} {
		for _, in := range []string{v2, noAcct, withRg, noData} {
			evs, rejs, _ := parsetest.Run(t, Name, name, []byte(in), 0)
			if len(rejs) > 0 || len(evs) != 1 {
				t.Fatalf("%s %q: events %d, rejects %v", name, in, len(evs), rejs)
			}
			if e := evs[0]; len(e.Fields) != cap(e.Fields) {
				t.Errorf("%s %q: %d fields in room for %d", name, in, len(e.Fields), cap(e.Fields))
			}
		}
	}
}
