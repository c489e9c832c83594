package all_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/decode"
	"github.com/ramen-siem/ramen/parse"
	_ "github.com/ramen-siem/ramen/parse/all"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

// head returns the first decompressed bytes of a file, as detection sees them.
func head(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := decode.Open(f)
	if err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r, parse.SniffSize))
	return b
}

// Every parser's own golden inputs are recognised by content alone as that parser's type, or not
// at all (deliberately broken inputs): never as another type.
func TestSniffingNeverStealsAnotherTypesFiles(t *testing.T) {
	files, _ := filepath.Glob("../*/testdata/golden/*")
	recognised := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		want := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(f))))
		got := parse.Detect("upload", parse.KeyInfo{}, head(t, f))
		switch {
		case got == nil:
		case got.Name != want:
			t.Errorf("%s: sniffed as %s, want %s or nothing", f, got.Name, want)
		default:
			recognised[want]++
		}
	}
	for _, typ := range parse.Names() {
		if recognised[typ] == 0 {
			t.Errorf("no golden input of %s is recognised by its content", typ)
		}
	}
}

// The S3 key layouts AWS writes name the type, whatever the content.
func TestDetectFromKeys(t *testing.T) {
	cases := map[string]string{
		"AWSLogs/210987654321/CloudTrail/us-east-1/2026/03/04/210987654321_CloudTrail_us-east-1_20260304T1105Z_Ab12Cd34Ef56Gh78.json.gz":                                            "cloudtrail",
		"org/AWSLogs/o-a1b2c3d4e5/210987654321/CloudTrail/eu-west-1/2026/03/04/x.json.gz":                                                                                           "cloudtrail",
		"AWSLogs/210987654321/CloudTrail-Digest/us-east-1/2026/03/04/d.json.gz":                                                                                                     "cloudtrail",
		"AWSLogs/210987654321/vpcflowlogs/us-east-1/2026/03/04/210987654321_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f67890_20260304T1105Z_ab12cd34.log.gz":                              "vpcflow",
		"AWSLogs/210987654321/elasticloadbalancing/us-east-1/2026/03/04/210987654321_elasticloadbalancing_us-east-1_app.shop.0a1b2c3d4e5f6789_20260304T1105Z_198.51.100.7_x.log.gz": "elb",
		"AWSLogs/210987654321/WAFLogs/us-east-1/shop-acl/2026/03/04/11/05/210987654321_waflogs_us-east-1_shop-acl_20260304T1105Z_abc.log.gz":                                        "waf",
		"AWSLogs/210987654321/GuardDuty/us-east-1/2026/03/04/0a1b2c3d-4e5f-6789-abcd-ef0123456789.jsonl.gz":                                                                         "guardduty",
		"AWSLogs/210987654321/vpcdnsquerylogs/vpc-0a1b2c3d/2026/03/04/vpc-0a1b2c3d_vpcdnsquerylogs_210987654321_20260304T1105Z_x.log.gz":                                            "route53",
		"logs/cdn/E2ABCDEF123456.2026-03-04-11.a1b2c3d4.gz":                                                                                                                         "cloudfront",
		"s3-access/2026-03-04-11-05-12-0A1B2C3D4E5F6A7B":                                                                                                                            "s3access",
		"firehose/aws-waf-logs-shop/2026/03/04/11/aws-waf-logs-shop-1-2026-03-04-11-05-12-abc":                                                                                      "waf",
	}
	for name, want := range cases {
		got := parse.Detect(name, parse.ParseKey(name), nil)
		if got == nil || got.Name != want {
			t.Errorf("%s: detected %v, want %s", name, got, want)
		}
	}
}

// The real samples in the shared fixtures are recognised by content as their own type.
func TestDetectSharedFixtures(t *testing.T) {
	dir := parsetest.Fixtures(t)
	streams := map[string]string{
		"cloudtrail": "cloudtrail", "vpcflow": "vpcflow", "elb_logs": "elb", "waf": "waf", "s3access": "s3access",
		"guardduty": "guardduty", "cloudfront_logs": "cloudfront", "route53_resolver_logs": "route53",
	}
	for stream, want := range streams {
		logs, _ := filepath.Glob(filepath.Join(dir, "elastic", stream, "*.log"))
		for _, f := range logs {
			h := head(t, f)
			if got := parse.Detect("upload", parse.KeyInfo{}, bytes.TrimLeft(h, "\n")); got == nil || got.Name != want {
				t.Errorf("%s: detected %v, want %s", f, got, want)
			}
		}
	}
}
