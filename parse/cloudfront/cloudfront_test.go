package cloudfront

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "cloudfront") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "cloudfront") }

func TestElasticExamples(t *testing.T) {
	if n := parsetest.Examples(t, "cloudfront", "elastic/cloudfront_logs/*.log"); n != 12 {
		t.Errorf("%d events, want 12", n)
	}
}

func TestAWSDocExamples(t *testing.T) {
	if n := parsetest.Examples(t, "cloudfront", "aws-docs/amazon-cloudfront-developer-guide/extracted_examples/AccessLogs_*.txt"); n != 6 {
		t.Errorf("%d events, want 6", n)
	}
}

// TestElasticValues checks, on the Elastic fixture (which has no expected output in the shared
// fixtures), the values Elastic's pipeline gives for the fields built from several columns.
func TestElasticValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(parsetest.Fixtures(t), "elastic", "cloudfront_logs", "test-cloudfront.log"))
	if err != nil {
		t.Skip(err)
	}
	evs, _, _ := parsetest.Run(t, "cloudfront", "test-cloudfront.log", data, 0)
	if len(evs) < 12 {
		t.Fatalf("%d events", len(evs))
	}
	for _, c := range []struct {
		i          int
		key, value string
	}{
		{0, "@timestamp", "2019-12-04T21:02:31Z"},
		{0, "url.full", "https://d111111abcdef8.cloudfront.net/index.html"},
		{0, "url.extension", "html"},
		{0, "related.hosts", `["d111111abcdef8.cloudfront.net"]`},
		{0, "user_agent.original", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"},
		{0, "http.version", "2.0"},
		{0, "tls.version", "1.2"},
		{0, "tls.version_protocol", "tls"},
		{0, "source.port", "11040"},
		{0, "http.response.bytes", "392"},
		{0, "http.response.body.bytes", "78"},
		{0, "network.type", "ipv4"},
		{1, "network.type", "ipv6"},
		{3, "related.hosts", `["www.example.com","d111111abcdef8.cloudfront.net"]`},
		{3, "event.outcome", "failure"},
		{3, "http.request.referrer", "http://www.example.com/"},
		{6, "url.full", "https://test.com/getApplications?source=global"},
		{7, "http.response.status_code", "0"},
		{7, "event.outcome", "failure"},
		{8, "network.forwarded_ip", `["81.2.69.142","216.160.83.56"]`},
		{8, "related.ip", `["81.2.69.142","216.160.83.56","81.2.69.143"]`},
		{9, "network.forwarded_ip", `["81.2.69.142","216.160.83.56"]`},
		{10, "network.forwarded_ip", `["localhost:8080"]`},
		{10, "related.ip", `["81.2.69.143"]`},
		{11, "user_agent.original", "User-Agent: Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; 360SE)"},
		{11, "aws.cloudfront.cookies", "cookie"},
	} {
		v, ok := evs[c.i].Get(c.key)
		if !ok || v.Text() != c.value {
			t.Errorf("event %d: %s = %q (present %v), want %q", c.i+1, c.key, v.Text(), ok, c.value)
		}
	}
}

func TestDetect(t *testing.T) {
	std := []byte("#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status\n")
	bare := []byte("2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\n")
	iis := []byte("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2024-01-01 00:00:00\n#Fields: date time s-ip cs-method cs-uri-stem\n")
	for _, c := range []struct {
		name string
		head []byte
		want bool
	}{
		{"s3://logs/cf/EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz", nil, true},
		{"example-prefix/E2QWRUHAPOMQZL.2024-06-01-08.a1b2c3d4.gz", nil, true},
		{"/tmp/E2QWRUHAPOMQZL.2024-06-01-08.a1b2c3d4", nil, true},
		{"x.log", std, true},
		{"x.log", bare, true},
		{"x.log", iis, false},
		{"x.log", []byte("#Version: 1.0\n"), false},
		{"2024-04-09-13-20-11-5E1F0A9B3C7D2E84", nil, false},
		{"x.log", []byte(`2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -` + "\n"), false},
	} {
		got := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		if is := got != nil && got.Name == "cloudfront"; is != c.want {
			name := "<nil>"
			if got != nil {
				name = got.Name
			}
			t.Errorf("Detect(%q, %.30q) = %s, want cloudfront: %v", c.name, c.head, name, c.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"a%20b":         "a b",
		"100%":          "100%",
		"%zz%4":         "%zz%4",
		"x%2520y":       "x%20y",
		"plus+stays":    "plus+stays",
		"%E6%97%A5":     "日",
		"no escapes":    "no escapes",
		"end%2":         "end%2",
		"%41%42%43%44%": "ABCD%",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"cs(Accept-Encoding)": "cs_accept_encoding", "c-country": "c_country", "cache-behavior-path-pattern": "cache_behavior_path_pattern", "()": "field"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	rows := []string{
		"2024-06-01\t08:15:42\tFRA56-P3\t48211\t198.51.100.23\tGET\td3k9x2example.cloudfront.net\t/assets/app.min.js\t200\thttps://www.example.com/checkout\tMozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2014_4)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.4%20Safari/605.1.15\tv=42&lang=de\t-\tHit\tZk3pQ9xW_example-request-id-0001==\twww.example.com\thttps\t512\t0.004\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t52344\t0.003\tHit\tapplication/javascript\t47880\t-\t-",
		"2024-06-01\t08:15:43\tIAD89-C1\t1024\t2001:db8:85a3::8a2e:370:7334\tPOST\td3k9x2example.cloudfront.net\t/api/login\t403\t-\tpython-requests/2.31.0\t-\t-\tError\tAb12Cd34_example-request-id-0002==\tapi.example.com\thttps\t845\t0.120\t203.0.113.9,%20192.0.2.44\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tError\tHTTP/1.1\t-\t-\t41222\t0.118\tError\ttext/html\t919\t-\t-",
		"2024-06-01\t08:15:45\tLHR61-P1\t6230\t203.0.113.77\tGET\td3k9x2example.cloudfront.net\t/index.html\t200\t-\tcurl/8.5.0\t-\t-\tMiss\tUv90Wx12_example-request-id-0004==\twww.example.com\thttps\t402\t0.044\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tMiss\tHTTP/1.1\t-\t-\t50123\t0.040\tMiss\ttext/html;charset=utf-8\t5960\t-\t-",
	}
	tmpl := []byte(strings.Join(rows, "\n") + "\n")
	hdr := "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"
	parsetest.Bench(b, "cloudfront", append([]byte(hdr), parsetest.Repeat(tmpl, 8<<20)...))
}
