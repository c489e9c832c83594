package lake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// genCloudTrail writes n CloudTrail records as AWS delivers them: files of {"Records":[...]} of
// perFile records each (one file per account, region and 5 minutes; a busy account has hundreds
// of records per file). The records vary as real ones do: a few hundred principals and addresses,
// a realistic mix of services and calls, fresh UUIDs for every request.
func genCloudTrail(n, perFile int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 11))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()&(1<<48-1))
	}
	type call struct{ source, name, kind string }
	calls := []call{
		{"s3.amazonaws.com", "GetObject", "s3"}, {"s3.amazonaws.com", "PutObject", "s3"}, {"s3.amazonaws.com", "ListObjects", "s3"},
		{"sts.amazonaws.com", "AssumeRole", "sts"}, {"ec2.amazonaws.com", "DescribeInstances", "ec2"}, {"ec2.amazonaws.com", "RunInstances", "ec2"},
		{"kms.amazonaws.com", "Decrypt", "kms"}, {"kms.amazonaws.com", "GenerateDataKey", "kms"}, {"iam.amazonaws.com", "GetRole", "iam"},
		{"lambda.amazonaws.com", "Invoke", "lambda"}, {"logs.amazonaws.com", "PutLogEvents", "logs"}, {"signin.amazonaws.com", "ConsoleLogin", "signin"},
		{"dynamodb.amazonaws.com", "Query", "ddb"}, {"secretsmanager.amazonaws.com", "GetSecretValue", "sm"},
	}
	accounts := []string{"210987654321", "123456789012", "555566667777"}
	regions := []string{"us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2"}
	agents := []string{
		"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/s3.cp",
		"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2",
		"Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#5.10.214 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.90",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
		"ec2.amazonaws.com", "lambda.amazonaws.com", "[aws-sdk-java/1.12.701 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS java/17.0.10]",
	}
	ips := make([]string, 300)
	for i := range ips {
		ips[i] = fmt.Sprintf("%d.%d.%d.%d", []int{3, 18, 34, 52, 54, 198, 203}[r.IntN(7)], r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}
	roles := make([]string, 60)
	for i := range roles {
		roles[i] = fmt.Sprintf("%s-%s-%d", []string{"app", "ci", "etl", "ops", "svc"}[r.IntN(5)], []string{"deployer", "reader", "writer", "runner", "admin"}[r.IntN(5)], r.IntN(100))
	}
	t := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var files [][]byte
	var recs []json.RawMessage
	for i := range n {
		t = t.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		c := calls[r.IntN(len(calls))]
		acct := accounts[r.IntN(len(accounts))]
		role := roles[r.IntN(len(roles))]
		session := fmt.Sprintf("%s-%d", role, r.IntN(10000))
		rec := map[string]any{
			"eventVersion": "1.09",
			"userIdentity": map[string]any{
				"type": "AssumedRole", "principalId": fmt.Sprintf("AROA%016X:%s", r.Uint64()%1e6, session),
				"arn": "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + session, "accountId": acct,
				"accessKeyId": fmt.Sprintf("ASIA%016X", r.Uint64()),
				"sessionContext": map[string]any{
					"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROA" + acct, "arn": "arn:aws:iam::" + acct + ":role/" + role, "accountId": acct, "userName": role},
					"attributes":    map[string]any{"creationDate": t.Add(-time.Duration(r.IntN(3600)) * time.Second).Format(time.RFC3339), "mfaAuthenticated": "false"},
				},
			},
			"eventTime": t.Format(time.RFC3339), "eventSource": c.source, "eventName": c.name,
			"awsRegion": regions[r.IntN(len(regions))], "sourceIPAddress": ips[r.IntN(len(ips))], "userAgent": agents[r.IntN(len(agents))],
			"requestID": uuid(), "eventID": uuid(), "readOnly": strings.HasPrefix(c.name, "Get") || strings.HasPrefix(c.name, "Describe") || strings.HasPrefix(c.name, "List"),
			"eventType": "AwsApiCall", "managementEvent": c.kind != "s3", "recipientAccountId": acct, "eventCategory": "Management",
		}
		switch c.kind {
		case "s3":
			bucket := fmt.Sprintf("%s-data-%d", acct, r.IntN(12))
			key := fmt.Sprintf("raw/%d/%02d/%x.json.gz", 2026, r.IntN(12)+1, r.Uint64())
			rec["requestParameters"] = map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com", "key": key}
			rec["resources"] = []any{map[string]any{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::" + bucket + "/" + key}, map[string]any{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}}
			rec["additionalEventData"] = map[string]any{"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "bytesTransferredOut": r.IntN(1 << 20), "x-amz-id-2": fmt.Sprintf("%x%x", r.Uint64(), r.Uint64())}
			rec["eventCategory"] = "Data"
		case "sts":
			rec["requestParameters"] = map[string]any{"roleArn": "arn:aws:iam::" + acct + ":role/" + roles[r.IntN(len(roles))], "roleSessionName": session, "durationSeconds": 3600}
			rec["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": fmt.Sprintf("ASIA%016X", r.Uint64()), "sessionToken": fmt.Sprintf("%x", r.Uint64()), "expiration": t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")}}
		case "ec2":
			rec["requestParameters"] = map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": fmt.Sprintf("i-%017x", r.Uint64()>>4)}}}, "filterSet": map[string]any{}}
		case "kms":
			rec["requestParameters"] = map[string]any{"keyId": "arn:aws:kms:us-east-1:" + acct + ":key/" + uuid(), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
			rec["resources"] = []any{map[string]any{"accountId": acct, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:" + acct + ":key/" + uuid()}}
		case "signin":
			rec["userIdentity"] = map[string]any{"type": "IAMUser", "principalId": fmt.Sprintf("AIDA%016X", r.Uint64()%1e4), "arn": "arn:aws:iam::" + acct + ":user/" + role, "accountId": acct, "userName": role}
			rec["responseElements"] = map[string]any{"ConsoleLogin": []string{"Success", "Success", "Failure"}[r.IntN(3)]}
			rec["additionalEventData"] = map[string]any{"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"}
			rec["eventType"] = "AwsConsoleSignIn"
		default:
			rec["requestParameters"] = map[string]any{"name": fmt.Sprintf("%s/%s/%d", c.kind, role, r.IntN(500))}
		}
		if r.IntN(20) == 0 {
			rec["errorCode"], rec["errorMessage"] = "AccessDenied", "User: arn:aws:sts::"+acct+":assumed-role/"+role+"/"+session+" is not authorized to perform: "+c.kind+":"+c.name
		}
		rec["tlsDetails"] = map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": strings.TrimSuffix(c.source, ".amazonaws.com") + "." + "us-east-1.amazonaws.com"}
		b, _ := json.Marshal(rec)
		recs = append(recs, b)
		if len(recs) == perFile || i == n-1 {
			f, _ := json.Marshal(map[string]any{"Records": recs})
			files = append(files, f)
			recs = recs[:0]
		}
	}
	return files
}

// genVPCFlow writes n default-format (v2) flow log lines in files of perFile lines with a header.
func genVPCFlow(n, perFile int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 13))
	enis := make([]string, 40)
	for i := range enis {
		enis[i] = fmt.Sprintf("eni-%017x", r.Uint64()>>4)
	}
	inside := func() string { return fmt.Sprintf("10.0.%d.%d", r.IntN(16), 1+r.IntN(254)) }
	outside := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}
	ports := []int{443, 443, 443, 80, 22, 53, 123, 3306, 5432, 6379, 8080}
	start := int64(1772409600) // 2026-03-02
	var files [][]byte
	var b bytes.Buffer
	for i := range n {
		if b.Len() == 0 {
			b.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
		}
		src, dst, sp, dp := inside(), outside(), 32768+r.IntN(28000), ports[r.IntN(len(ports))]
		if r.IntN(2) == 0 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		pk := 1 + r.IntN(200)
		st := start + int64(i/50)
		action := "ACCEPT"
		if r.IntN(8) == 0 {
			action = "REJECT"
		}
		fmt.Fprintf(&b, "2 123456789012 %s %s %s %d %d %d %d %d %d %d %s OK\n", enis[r.IntN(len(enis))], src, dst, sp, dp, []int{6, 6, 6, 17, 1}[r.IntN(5)], pk, pk*(40+r.IntN(1400)), st, st+int64(r.IntN(60)), action)
		if (i+1)%perFile == 0 || i == n-1 {
			files = append(files, bytes.Clone(b.Bytes()))
			b.Reset()
		}
	}
	return files
}

func gzipSize(files [][]byte) (raw, gz int64) {
	for _, f := range files {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(f)
		w.Close()
		raw += int64(len(f))
		gz += int64(b.Len())
	}
	return
}

// BenchmarkStorageRatio reports the lake's bytes against the raw records and against gzip (how AWS
// delivers them), for CloudTrail and VPC flow logs: the issue asks for CloudTrail Parquet <= 1/8 of
// raw JSON and smaller than the gzip files. It also reports what the columns cost and what other
// writer settings would give, so that a change to writer.go comes with numbers.
//
//	go test -run '^$' -bench StorageRatio -benchtime 1x ./lake
func BenchmarkStorageRatio(b *testing.B) {
	for _, tc := range []struct {
		typ   string
		files [][]byte
	}{
		{"cloudtrail", genCloudTrail(20000, 500, 1)},
		{"vpcflow", genVPCFlow(50000, 10000, 2)},
	} {
		b.Run(tc.typ, func(b *testing.B) {
			raw, gz := gzipSize(tc.files)
			var lakeBytes int64
			var l *Lake
			for range b.N {
				if l != nil {
					l.Close()
				}
				var err error
				if l, err = Open(filepath.Join(b.TempDir(), "lake"), Options{}); err != nil {
					b.Fatal(err)
				}
				a, _ := l.NewAppender()
				for i, f := range tc.files {
					name := fmt.Sprintf("file-%d", i)
					if _, err := parse.Object(context.Background(), name, bytes.NewReader(f), parse.Options{Type: tc.typ},
						func(e *event.Event) error { return a.Add(e) }, nil); err != nil {
						b.Fatal(err)
					}
					a.EndObject(Object{Key: name, SHA256: name})
				}
				st, err := a.Commit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				lakeBytes = st.ParquetBytes
			}
			defer l.Close()
			b.ReportMetric(float64(raw)/float64(lakeBytes), "raw/parquet")
			b.ReportMetric(float64(gz)/float64(lakeBytes), "gzip/parquet")
			b.ReportMetric(float64(lakeBytes), "parquet-bytes")
			b.Logf("%s: raw %d, gzip %d (1/%.1f), lake %d (1/%.1f of raw, %.2f× gzip)",
				tc.typ, raw, gz, float64(raw)/float64(gz), lakeBytes, float64(raw)/float64(lakeBytes), float64(lakeBytes)/float64(gz))
			storageBreakdown(b, l, tc.typ, lakeBytes)
		})
	}
}

// storageBreakdown logs the compressed bytes of the largest top-level columns, and the lake's size
// rewritten with other settings.
func storageBreakdown(b *testing.B, l *Lake, typ string, total int64) {
	glob := sqlString(l.partitionGlob(typ))
	rows, err := l.DB().Query(`SELECT path_in_schema AS col, sum(total_compressed_size), sum(total_uncompressed_size)
		FROM parquet_metadata(` + glob + `) GROUP BY 1 ORDER BY 2 DESC LIMIT 8`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var col string
		var comp, unc int64
		rows.Scan(&col, &comp, &unc)
		b.Logf("  column %-28s %9d bytes compressed (%4.1f%% of the file bytes), %9d uncompressed", col, comp, pct(comp, total), unc)
	}
	rows.Close()
	var nfiles, footers int64
	l.DB().QueryRow(`SELECT count(*), sum(footer_size) FROM parquet_file_metadata(`+glob+`)`).Scan(&nfiles, &footers)
	b.Logf("  %d files, footers %d bytes (%.1f%%)", nfiles, footers, pct(footers, total))
	dir := b.TempDir()
	src := `(SELECT * FROM read_parquet(` + glob + `, hive_partitioning = false, union_by_name = true) ORDER BY "@timestamp")`
	for _, v := range []struct{ name, sel, opts string }{
		{"as written, one file", src, "COMPRESSION zstd"},
		{"zstd level 9", src, "COMPRESSION zstd, COMPRESSION_LEVEL 9"},
		{"zstd level 19", src, "COMPRESSION zstd, COMPRESSION_LEVEL 19"},
		{"event.original alone", `(SELECT event.original FROM ` + src + `)`, "COMPRESSION zstd"},
		{"event.original alone, zstd 19", `(SELECT event.original FROM ` + src + `)`, "COMPRESSION zstd, COMPRESSION_LEVEL 19"},
		{"_id as 16 bytes (unhex)", `(SELECT * REPLACE (unhex(_id) AS _id) FROM ` + src + `)`, "COMPRESSION zstd"},
		{"sorted by action, then time", `(SELECT * FROM read_parquet(` + glob + `, hive_partitioning = false, union_by_name = true) ORDER BY event.action, "@timestamp")`, "COMPRESSION zstd"},
		{"sorted by action, zstd 9", `(SELECT * FROM read_parquet(` + glob + `, hive_partitioning = false, union_by_name = true) ORDER BY event.action, "@timestamp")`, "COMPRESSION zstd, COMPRESSION_LEVEL 9"},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".parquet")
		if _, err := l.DB().Exec(`COPY ` + v.sel + ` TO ` + sqlString(out) + ` (FORMAT parquet, ` + v.opts + `)`); err != nil {
			b.Logf("  %s: %v", v.name, err)
			continue
		}
		fi, _ := os.Stat(out)
		b.Logf("  rewritten %-32s %9d bytes (%.2f× the lake)", v.name+":", fi.Size(), float64(fi.Size())/float64(total))
	}
}
