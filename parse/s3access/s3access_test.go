package s3access

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "s3access") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "s3access") }

func TestConformance(t *testing.T) {
	// The shared fixture's expected output covers only the first records of the log (the last ones,
	// with access point ARN, aclRequired and a lifecycle expiry, have none), and Conformance pairs
	// events by order and wants equal counts: compare those first records, from a trimmed copy made
	// here. The whole file must still parse without a reject (TestElasticExamples).
	t.Setenv("RAMEN_FIXTURES", trimmedFixtures(t, "s3access", "test-s3-server-access.log"))
	parsetest.Conformance(t, "s3access", "s3access", nil)
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

func TestElasticExamples(t *testing.T) {
	if n := parsetest.Examples(t, "s3access", "elastic/s3access/*.log"); n != 10 {
		t.Errorf("%d events, want 10", n)
	}
}

func TestAWSDocExamples(t *testing.T) {
	if n := parsetest.Examples(t, "s3access", "aws-docs/amazon-s3-userguide/extracted_examples/LogFormat_*.txt"); n != 5 {
		t.Errorf("%d events, want 5", n)
	}
}

func TestDetect(t *testing.T) {
	line := []byte(`79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -` + "\n")
	for _, c := range []struct {
		name string
		head []byte
		want bool
	}{
		{"s3://logs/access/2019-02-06-00-00-38-3E57427F33A59F07", nil, true},
		{"access/media-2024-04-09-13-20-11-5E1F0A9B3C7D2E84", nil, true},
		{"111122223333/eu-west-1/media/2024/04/09/2024-04-09-13-20-11-5E1F0A9B3C7D2E84", nil, true},
		{"/tmp/2024-04-09-13-20-11-5E1F0A9B3C7D2E84", nil, true},
		{"some-file.log", line, true},
		{"2024-04-09-13-20-11-5E1F0A9B3C7D2E84.gz", nil, false},
		{"E2EXAMPLE.2019-12-04-21.a1b2c3d4.gz", nil, false},
		{"other.log", []byte("#Version: 1.0\n"), false},
		{"other.log", []byte(`http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1"` + "\n"), false},
		{"other.log", []byte(`192.0.2.1 - - [06/Feb/2019:00:00:38 +0000] "GET / HTTP/1.1" 200 12` + "\n"), false},
	} {
		got := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		if is := got != nil && got.Name == "s3access"; is != c.want {
			name := "<nil>"
			if got != nil {
				name = got.Name
			}
			t.Errorf("Detect(%q) = %s, want s3access: %v", c.name, name, c.want)
		}
	}
}

func TestRegionOf(t *testing.T) {
	for host, want := range map[string]string{
		"s3.ap-southeast-1.amazonaws.com":                       "ap-southeast-1",
		"flow-log-test.s3.us-gov-west-1.amazonaws.com":          "us-gov-west-1",
		"s3.dualstack.eu-west-1.amazonaws.com":                  "eu-west-1",
		"s3-us-west-2.amazonaws.com":                            "us-west-2",
		"b.s3-accesspoint.us-east-2.amazonaws.com":              "us-east-2",
		"s3.amazonaws.com":                                      "",
		"bucket.s3.amazonaws.com":                               "",
		"my-bucket.s3-website-eu-west-1.amazonaws.com":          "eu-west-1",
		"my-bucket.s3-website.eu-central-1.amazonaws.com":       "eu-central-1",
		"s3.cn-north-1.amazonaws.com.cn":                        "cn-north-1",
		"ap-123456789012.s3-accesspoint.ca-central-1.amazonaws": "ca-central-1",
	} {
		if got := regionOf(host); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"06/Feb/2019:00:00:38 +0000": "2019-02-06T00:00:38Z",
		"09/Apr/2024:13:18:30 -0700": "2024-04-09T20:18:30Z",
		"01/Jan/2024:01:00:00 +0130": "2023-12-31T23:30:00Z",
	} {
		got, ok := parseTime(in)
		if !ok || got.Format("2006-01-02T15:04:05Z07:00") != want {
			t.Errorf("parseTime(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"31/Apr/2024:00:00:00 +0000", "06/Fob/2019:00:00:38 +0000", "06/Feb/2019:00:00:38", "06/Feb/2019:24:00:38 +0000"} {
		if _, ok := parseTime(bad); ok {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const o = "4b2f6a0c9d8e7f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192"
	tmpl := []byte(o + ` media-archive-prod [09/Apr/2024:13:15:02 +0000] 198.51.100.14 arn:aws:iam::111122223333:user/deploy-bot 7Q2M9K4T1X8B3N6V REST.PUT.OBJECT uploads/2024/04/report.pdf "PUT /media-archive-prod/uploads/2024/04/report.pdf?x-id=PutObject HTTP/1.1" 200 - - 1048576 184 22 "-" "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22 prompt/off command/s3.cp" - Qm9ndXNIb3N0SWQxMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo= SigV4 TLS_AES_128_GCM_SHA256 AuthHeader media-archive-prod.s3.eu-west-1.amazonaws.com TLSv1.3 - -
` + o + ` media-archive-prod [09/Apr/2024:13:16:44 +0000] 10.0.5.17 arn:aws:sts::111122223333:assumed-role/AppRole/i-0abc123def4567890 9F8E7D6C5B4A3921 REST.GET.OBJECT thumbs/cat.jpg "GET /thumbs/cat.jpg?versionId=3HL4kqtJvjVBH40Nrjfkd HTTP/1.1" 200 - 20480 20480 31 12 "-" "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux api/s3#1.53.1" 3HL4kqtJvjVBH40Nrjfkd YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkwQUJDREVGRw== SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader s3.dualstack.eu-west-1.amazonaws.com TLSv1.2 arn:aws:s3:eu-west-1:111122223333:accesspoint/app-ap Yes
` + o + ` media-archive-prod [09/Apr/2024:13:15:09 +0000] 203.0.113.200 - 1A2B3C4D5E6F7A8B REST.GET.OBJECT private/keys.txt "GET /private/keys.txt HTTP/1.1" 403 AccessDenied 243 - 9 - "https://evil.example.net/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/123.0" - Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHk= - ECDHE-RSA-AES128-GCM-SHA256 - media-archive-prod.s3.amazonaws.com TLSv1.2 - -
`)
	parsetest.Bench(b, "s3access", parsetest.Repeat(tmpl, 8<<20))
}
