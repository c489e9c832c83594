package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIngest measures `ramen ingest` end to end, as issue #3 sets its targets: gzip files read,
// decompressed, parsed, written as Parquet and committed durably into a fresh lake, in process.
// The corpora are generated into a temporary directory first (not timed): CloudTrail as AWS
// delivers it (20 files of 10,000 records), VPC flow logs in the default v2 format (10 files of
// 100,000 records with varied addresses and ports). Detection is off (--no-detect): this measures
// the pipeline into the lake, not the rules.
//
//	go test ./cmd/ramen -run '^$' -bench '^BenchmarkIngest$' -benchtime 1x -count 3
//
// It reports events/s, the CPU seconds of a run (user and system, all cores), the process's peak RSS during the run (VmHWM, reset before each run; Linux
// only) and the peak Go heap sampled every 10 ms, and the lake's Parquet bytes. RAMEN_BENCH_CORPUS=DIR
// keeps the corpora in DIR/cloudtrail and DIR/vpcflow, to run and profile the ramen binary on them.
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct {
		name string
		gen  func(dir string) (int, error)
	}{
		{"cloudtrail", func(dir string) (int, error) { return writeCloudTrailCorpus(dir, 20, 10_000, 1) }},
		{"vpcflow", func(dir string) (int, error) { return writeFlowCorpus(dir, 10, 100_000, 2) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			corpus := filepath.Join(b.TempDir(), "corpus")
			if dir := os.Getenv("RAMEN_BENCH_CORPUS"); dir != "" {
				// Keep the corpus, e.g. to profile the ramen binary on it.
				corpus = filepath.Join(dir, tc.name)
				os.RemoveAll(corpus)
			}
			n, err := tc.gen(corpus)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var peakRSS, peakHeap, stored int64
			var elapsed, cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				data := filepath.Join(b.TempDir(), "data")
				runtime.GC()
				resetPeakRSS()
				stopSampling := sampleHeap(&peakHeap)
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				var out, errb bytes.Buffer
				if code := run(context.Background(), []string{"ingest", "--no-detect", "--data", data, corpus}, strings.NewReader(""), &out, &errb); code != 0 {
					b.Fatalf("ramen ingest exited %d: %s", code, errb.String())
				}
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				b.StopTimer()
				stopSampling()
				peakRSS = max(peakRSS, readPeakRSS())
				stored = dirBytes(filepath.Join(data, "lake"))
				if !strings.Contains(errb.String(), ", "+strconv.Itoa(n)+" events,") {
					b.Fatalf("expected %d events in the summary: %s", n, errb.String())
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
			if peakRSS > 0 {
				b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
			}
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(stored)/(1<<20), "stored-MB")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak resident set size of this process (VmHWM), so that the next
// readPeakRSS measures only what follows.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readPeakRSS returns VmHWM in bytes, or 0 where /proc does not have it.
func readPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampleHeap records the largest heap (objects, live or not yet collected) seen every 10 ms until
// the returned func is called. It reads runtime/metrics, which does not stop the world as
// runtime.ReadMemStats does.
func sampleHeap(peak *int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var p atomic.Int64
	p.Store(*peak)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
				metrics.Read(sample)
				if h := int64(sample[0].Value.Uint64()); h > p.Load() {
					p.Store(h)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait(); *peak = p.Load() }
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".parquet") {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// writeGzip writes one gzip file made by fill.
func writeGzip(path string, fill func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	err = fill(zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeCloudTrailCorpus writes files of {"Records":[...]} the way AWS delivers them, named as AWS
// names them, with records that vary as real ones do: a few hundred principals and addresses, a mix
// of services and calls with their own request parameters, fresh UUIDs for every request.
func writeCloudTrailCorpus(dir string, files, perFile int, seed uint64) (int, error) {
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
		"ec2.amazonaws.com", "lambda.amazonaws.com",
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
	n := 0
	for fi := range files {
		acct := accounts[fi%len(accounts)]
		name := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/2026/03/02/%s_CloudTrail_us-east-1_20260302T%02d%02dZ_%016x.json.gz", acct, acct, fi/12, fi%12*5, r.Uint64())
		err := writeGzip(filepath.Join(dir, name), func(w io.Writer) error {
			recs := make([]json.RawMessage, 0, perFile)
			for range perFile {
				t = t.Add(time.Duration(r.IntN(400)) * time.Millisecond)
				c := calls[r.IntN(len(calls))]
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
				rec["tlsDetails"] = map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": strings.TrimSuffix(c.source, ".amazonaws.com") + ".us-east-1.amazonaws.com"}
				b, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				recs = append(recs, b)
			}
			n += len(recs)
			return json.NewEncoder(w).Encode(map[string]any{"Records": recs})
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeFlowCorpus writes default-format (v2) VPC flow log files with a header line: traffic between
// addresses inside a VPC and random ones outside, in both directions, on common service ports.
func writeFlowCorpus(dir string, files, perFile int, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, 13))
	enis := make([]string, 40)
	for i := range enis {
		enis[i] = fmt.Sprintf("eni-%017x", r.Uint64()>>4)
	}
	ports := []int{443, 443, 443, 80, 22, 53, 123, 3306, 5432, 6379, 8080}
	start := int64(1772409600) // 2026-03-02
	n := 0
	for fi := range files {
		name := fmt.Sprintf("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/03/02/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20260302T%02d00Z_%08x.log.gz", fi, r.Uint32())
		err := writeGzip(filepath.Join(dir, name), func(w io.Writer) error {
			bw := bytes.NewBuffer(make([]byte, 0, perFile*110))
			bw.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
			for range perFile {
				src := fmt.Sprintf("10.0.%d.%d", r.IntN(16), 1+r.IntN(254))
				dst := fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
				sp, dp := 32768+r.IntN(28000), ports[r.IntN(len(ports))]
				if r.IntN(2) == 0 {
					src, dst, sp, dp = dst, src, dp, sp
				}
				pk := 1 + r.IntN(200)
				st := start + int64(n/30)
				action := "ACCEPT"
				if r.IntN(8) == 0 {
					action = "REJECT"
				}
				fmt.Fprintf(bw, "2 123456789012 %s %s %s %d %d %d %d %d %d %d %s OK\n", enis[r.IntN(len(enis))], src, dst, sp, dp, []int{6, 6, 6, 17, 1}[r.IntN(5)], pk, pk*(40+r.IntN(1400)), st, st+int64(r.IntN(60)), action)
				n++
			}
			_, err := w.Write(bw.Bytes())
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
