package elb

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "elb") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "elb") }

// conformanceSkip lists the compared fields where ramen differs from Elastic on purpose.
var conformanceSkip = map[string]string{
	"@timestamp": "ramen keeps the microseconds AWS writes; Elastic's date processor truncates to milliseconds " +
		"(TestTimestampsMatchElasticToTheMillisecond checks the rest)",
}

func TestConformance(t *testing.T) {
	// The shared fixture's expected output covers only the first records of test-alb.log (the NLB,
	// connection log and newest ALB lines after them have none), and Conformance pairs events by
	// order and wants equal counts: compare those first records, from a trimmed copy made here.
	// The whole file must still parse without a reject (TestElasticExamples).
	dir := trimmedFixtures(t, "elb_logs", "test-alb.log")
	t.Setenv("RAMEN_FIXTURES", dir)
	parsetest.Conformance(t, "elb", "elb_logs", conformanceSkip)
}

// trimmedFixtures copies fixtures/elastic/<stream>/<log> and its expected output to a temporary
// fixtures directory, keeping only as many lines of the log as the expected output has events.
func trimmedFixtures(t *testing.T, stream, log string) string {
	t.Helper()
	src := filepath.Join(parsetest.Fixtures(t), "elastic", stream)
	exp, err := os.ReadFile(filepath.Join(src, log+"-expected.json"))
	if err != nil {
		t.Skip(err)
	}
	data, err := os.ReadFile(filepath.Join(src, log))
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(exp, []byte(`"@timestamp"`))
	lines := strings.SplitAfter(string(data), "\n")
	if n < len(lines) {
		lines = lines[:n]
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "elastic", stream)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, log), []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, log+"-expected.json"), exp, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTimestampsMatchElasticToTheMillisecond(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(parsetest.Fixtures(t), "elastic", "elb_logs", "test-alb.log"))
	if err != nil {
		t.Skip(err)
	}
	evs, _, _ := parsetest.Run(t, "elb", "test-alb.log", data, 0)
	want := []string{"2018-07-02T22:23:00.186Z", "2022-05-12T06:41:29.051Z"}
	for i, w := range want {
		if got := evs[i].Timestamp.Truncate(1e6).Format("2006-01-02T15:04:05.000Z"); got != w {
			t.Errorf("event %d: @timestamp %s, Elastic has %s", i+1, got, w)
		}
	}
}

func TestElasticExamples(t *testing.T) {
	if n := parsetest.Examples(t, "elb", "elastic/elb_logs/*.log"); n != 10 {
		t.Errorf("%d events from test-alb.log, want 10", n)
	}
}

// TestAWSDocExamples parses the examples of the ALB and NLB guides. The guides wrap each record over
// several lines for reading (a real log has one record per line), so the lines are joined first;
// every wrap falls between two fields.
func TestAWSDocExamples(t *testing.T) {
	fx := parsetest.Fixtures(t)
	var files []string
	for _, g := range []string{
		"aws-docs/elb-application-load-balancers-user-guide/extracted_examples/*.txt",
		"aws-docs/elb-network-load-balancers-user-guide/extracted_examples/*.txt",
	} {
		m, _ := filepath.Glob(filepath.Join(fx, g))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no AWS doc examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				parts = append(parts, l)
			}
		}
		joined := strings.Join(parts, " ") + "\n"
		evs, rejs, _ := parsetest.Run(t, "elb", f, []byte(joined), 0)
		for _, r := range rejs {
			t.Errorf("%s", r)
		}
		if len(evs) != 1 {
			t.Errorf("%s: %d events, want 1", f, len(evs))
		}
	}
}

func TestDetect(t *testing.T) {
	alb := []byte(`http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - -` + "\n")
	nlb := []byte("tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - - - - - - - - - -\n")
	classic := []byte(`2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -` + "\n")
	classicIdle := []byte(`2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 - -1 -1 -1 504 0 0 0 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -` + "\n")
	conn := []byte(`2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 "CN=x" - - Success` + "\n")
	cases := []struct {
		name string
		head []byte
		want string // "" for not elb
	}{
		{"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/05/01/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20140215T2340Z_172.160.001.192_20sg8hgm.log.gz", nil, "elb"},
		{"s3://b/p/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2020/05/01/123456789012_elasticloadbalancing_us-east-2_net.my-loadbalancer.1234567890abcdef_20200501T0000Z_20sg8hgm.log.gz", nil, "elb"},
		{"123456789012_elasticloadbalancing_us-east-2_net.my-loadbalancer.1234567890abcdef_20200501T0000Z_20sg8hgm.log.gz", nil, "elb"},
		{"/tmp/123456789012_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192_20sg8hgm.log", nil, "elb"},
		{"x/123456789012_elasticloadbalancing_eu-west-1_conn_log.app.my-lb.1234567890abcdef_20240311T0915Z_10.0.0.4_abc.log.gz", nil, "elb"},
		{"alb.log", alb, "elb"},
		{"nlb.log", nlb, "elb"},
		{"classic.log", classic, "elb"},
		{"classic.log", classicIdle, "elb"},
		{"conn.log", conn, "elb"},
		{"other.log", []byte("2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\n"), ""},
		{"other.log", []byte("#Version: 1.0\n#Fields: date time\n"), ""},
		{"other.log", []byte(`79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /b?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -` + "\n"), ""},
		{"other.log", []byte("2 123456789012 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"), ""},
		{"other.log", []byte("2024-01-01T00:00:00Z host sshd[1]: Accepted publickey for x\n"), ""},
		{"other.log", []byte(`{"Records":[]}`), ""},
	}
	for _, c := range cases {
		got := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		name := ""
		if got != nil {
			name = got.Name
		}
		if c.want == "elb" && name != "elb" || c.want == "" && name == "elb" {
			t.Errorf("Detect(%q, %.40q) = %q, want %q", c.name, c.head, name, c.want)
		}
	}
}

func TestSplitRequest(t *testing.T) {
	for _, c := range []struct{ in, method, uri, version string }{
		{"GET http://x:80/ HTTP/1.1", "GET", "http://x:80/", "1.1"},
		{"GET http://x:80/a b?c d HTTP/2.0", "GET", "http://x:80/a b?c d", "2.0"},
		{"- - - ", "", "", ""},
		{"- http://x:80- ", "", "http://x:80-", ""},
		{"-", "", "", ""},
	} {
		m, u, v := splitRequest(c.in)
		if m != c.method || u != c.uri || v != c.version {
			t.Errorf("splitRequest(%q) = %q %q %q, want %q %q %q", c.in, m, u, v, c.method, c.uri, c.version)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	tmpl := []byte(`http 2024-03-11T09:15:02.418523Z app/shop-frontend/8f3a1c9e2b7d4a60 203.0.113.45:51234 10.20.1.17:8080 0.001 0.012 0.000 200 200 412 5120 "GET http://shop.example.org:80/catalog/items.json?page=2&sort=price HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0" - - arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop-web/5d2e8f1a3b4c6d7e "Root=1-65eecb36-0a1b2c3d4e5f60718293a4b5" "-" "-" 1 2024-03-11T09:15:02.405000Z "forward" "-" "-" "10.20.1.17:8080" "200" "-" "-" TID_4f2c9a7e1b3d5f60 "-" "-" "-"
https 2024-03-11T09:15:03.001200Z app/shop-frontend/8f3a1c9e2b7d4a60 198.51.100.7:40022 10.20.2.30:8443 0.000 0.051 0.001 404 404 230 712 "POST https://api.shop.example.org:443/v2/login HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop-api/0a9b8c7d6e5f4a3b "Root=1-65eecb37-112233445566778899aabbcc" "api.shop.example.org" "arn:aws:acm:eu-west-1:111122223333:certificate/aaaabbbb-cccc-dddd-eeee-ffff00001111" 3 2024-03-11T09:15:02.949000Z "authenticate,forward" "-" "-" "10.20.2.30:8443" "404" "-" "-" TID_0000aaaa1111bbbb "-" "-" "-"
h2 2024-03-11T09:15:04.500000Z app/shop-frontend/8f3a1c9e2b7d4a60 10.0.1.252:48160 10.20.1.18:8080 0.000 0.004 0.000 200 200 98 402 "GET https://shop.example.org:443/static/app.js HTTP/2.0" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop-web/5d2e8f1a3b4c6d7e "Root=1-65eecb38-aabbccddeeff001122334455" "shop.example.org" "session-reused" 0 2024-03-11T09:15:04.496000Z "forward" "-" "-" "10.20.1.18:8080" "200" "-" "-" TID_1a2b3c4d5e6f7080 "-" "-" "-"
`)
	parsetest.Bench(b, "elb", parsetest.Repeat(tmpl, 8<<20))
}

func BenchmarkParseNLB(b *testing.B) {
	tmpl := []byte(`tls 2.0 2024-05-02T14:00:10 net/edge-tls/4b5c6d7e8f901234 a1b2c3d4e5f60718 203.0.113.8:49152 10.1.0.20:443 1250 38 2210 18342 - arn:aws:acm:us-west-2:111122223333:certificate/01234567-89ab-cdef-0123-456789abcdef - ECDHE-RSA-AES128-GCM-SHA256 tlsv12 - edge.example.com h2 h2 "h2","http/1.1" 2024-05-02T13:59:50
`)
	parsetest.Bench(b, "elb", parsetest.Repeat(tmpl, 8<<20))
}
