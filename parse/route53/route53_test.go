package route53

import (
	"bytes"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "route53") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "route53") }

// TestExamples parses Elastic's Resolver test log (it has no expected output) and the examples of
// the Route 53 developer guide (Resolver JSON and public query log lines).
func TestExamples(t *testing.T) {
	if n := parsetest.Examples(t, "route53", "elastic/route53_resolver_logs/*.log"); n != 34 {
		t.Errorf("%d events from Elastic's test log, want 34", n)
	}
	if n := parsetest.Examples(t, "route53", "aws-docs/amazon-route53-docs/extracted_examples/*"); n != 6 {
		t.Errorf("%d events from the AWS examples, want 6", n)
	}
}

func TestDetect(t *testing.T) {
	resolver := []byte(`{"version":"1.100000","account_id":"444455556666","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d","query_timestamp":"2024-03-05T14:22:07Z","query_name":"api.example.com.","query_type":"A"}`)
	public := []byte("1.0 2024-03-05T14:30:00.123Z Z0123456789ABCDEFGHIJ example.com A NOERROR UDP FRA56-C1 192.0.2.53 -\n")
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"AWSLogs/444455556666/vpcdnsquerylogs/vpc-0a1b2c3d4e5f60718/2024/03/05/444455556666_vpcdnsquerylogs_vpc-0a1b2c3d4e5f60718_20240305T1420Z_1a2b3c4d.log.gz", nil, true},
		{"exports/aws/route53/example.com/000000.gz", nil, true},
		{"queries.log", resolver, true},
		{"queries.log", append([]byte("[\n "), resolver...), true},
		{"queries.log", public, true},
		{"queries.log", []byte("1.0 2024-03-05T14:30:00.123Z Z0123456789ABCDEFGHIJ example.com A NOERROR UDP FRA56-C1 192.0.2.53 192.0.2.0/24\r\n"), true},
		// Not Route 53.
		{"trail.json", []byte(`{"Records":[{"eventVersion":"1.08","eventSource":"route53resolver.amazonaws.com","requestParameters":{"query_name":"x","query_timestamp":"y"}}]}`), false},
		{"flow.log", []byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"), false},
		{"access.log", []byte("1.0 not-a-time Z0123 example.com A NOERROR UDP FRA6 192.168.1.1 -\n"), false},
	}
	for _, c := range cases {
		typ := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		got := typ != nil && typ.Name == "route53"
		if got != c.want {
			name := "<nil>"
			if typ != nil {
				name = typ.Name
			}
			t.Errorf("Detect(%q, %.50q) = %s, want route53=%v", c.name, c.head, name, c.want)
		}
	}
}

func TestReverseIP(t *testing.T) {
	for in, want := range map[string]string{
		"4.3.2.1.in-addr.arpa": "1.2.3.4",
		"3.2.1.in-addr.arpa":   "",
		"x.3.2.1.in-addr.arpa": "",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa": "2001:db8::1",
		"0.8.b.d.0.1.0.0.2.ip6.arpa": "",
		"example.com":                "",
	} {
		if got := reverseIP(in); got != want {
			t.Errorf("reverseIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.Run("resolver", func(b *testing.B) {
		var tmpl bytes.Buffer
		tmpl.WriteString(`{"version":"1.100000","account_id":"444455556666","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d4e5f60718","query_timestamp":"2024-03-05T14:22:07Z","query_name":"api.example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"api-lb.example.net.","Type":"CNAME","Class":"IN"},{"Rdata":"198.51.100.10","Type":"A","Class":"IN"}],"srcaddr":"10.0.3.25","srcport":"53124","transport":"UDP","srcids":{"instance":"i-0fedcba9876543210"}}` + "\n")
		tmpl.WriteString(`{"version":"1.100000","account_id":"444455556666","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d4e5f60718","query_timestamp":"2024-03-05T14:22:09Z","query_name":"does-not-exist.example.com.","query_type":"AAAA","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"10.0.3.25","srcport":"53125","transport":"UDP","srcids":{"instance":"i-0fedcba9876543210"}}` + "\n")
		parsetest.Bench(b, "route53", parsetest.Repeat(tmpl.Bytes(), 8<<20))
	})
	b.Run("public", func(b *testing.B) {
		tmpl := []byte("1.0 2024-03-05T14:30:00.123Z Z0123456789ABCDEFGHIJ example.com A NOERROR UDP FRA56-C1 192.0.2.53 -\n" +
			"1.0 2024-03-05T14:30:01.456Z Z0123456789ABCDEFGHIJ www.example.com AAAA NOERROR TCP IAD89-C3 2001:db8:53::1 198.51.100.0/24\n")
		parsetest.Bench(b, "route53", parsetest.Repeat(tmpl, 8<<20))
	})
}
