// Package benchdata generates AWS log records for ramen's benchmarks (storage ratio, ingest speed).
// The records vary the way real ones do — a few hundred principals and addresses, a mix of services
// and calls with their own request parameters, fresh UUIDs for every request — so that neither
// compression nor parsing is flattered by repetition. The same seed gives the same records.
package benchdata

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Accounts are the AWS accounts of the generated records.
var Accounts = []string{"210987654321", "123456789012", "555566667777"}

type call struct{ source, name, kind string }

var calls = []call{
	{"s3.amazonaws.com", "GetObject", "s3"}, {"s3.amazonaws.com", "PutObject", "s3"}, {"s3.amazonaws.com", "ListObjects", "s3"},
	{"sts.amazonaws.com", "AssumeRole", "sts"}, {"ec2.amazonaws.com", "DescribeInstances", "ec2"}, {"ec2.amazonaws.com", "RunInstances", "ec2"},
	{"kms.amazonaws.com", "Decrypt", "kms"}, {"kms.amazonaws.com", "GenerateDataKey", "kms"}, {"iam.amazonaws.com", "GetRole", "iam"},
	{"lambda.amazonaws.com", "Invoke", "lambda"}, {"logs.amazonaws.com", "PutLogEvents", "logs"}, {"signin.amazonaws.com", "ConsoleLogin", "signin"},
	{"dynamodb.amazonaws.com", "Query", "ddb"}, {"secretsmanager.amazonaws.com", "GetSecretValue", "sm"},
}

var regions = []string{"us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2"}

var agents = []string{
	"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/s3.cp",
	"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2",
	"Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#5.10.214 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.90",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
	"ec2.amazonaws.com", "lambda.amazonaws.com", "[aws-sdk-java/1.12.701 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS java/17.0.10]",
}

// CloudTrail generates CloudTrail records, a few hundred milliseconds apart from 2026-03-02.
type CloudTrail struct {
	r     *rand.Rand
	t     time.Time
	ips   []string
	roles []string
}

// NewCloudTrail returns a generator of CloudTrail records.
func NewCloudTrail(seed uint64) *CloudTrail {
	r := rand.New(rand.NewPCG(seed, 11))
	g := &CloudTrail{r: r, t: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ips: make([]string, 300), roles: make([]string, 60)}
	for i := range g.ips {
		g.ips[i] = fmt.Sprintf("%d.%d.%d.%d", []int{3, 18, 34, 52, 54, 198, 203}[r.IntN(7)], r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}
	for i := range g.roles {
		g.roles[i] = fmt.Sprintf("%s-%s-%d", []string{"app", "ci", "etl", "ops", "svc"}[r.IntN(5)], []string{"deployer", "reader", "writer", "runner", "admin"}[r.IntN(5)], r.IntN(100))
	}
	return g
}

func (g *CloudTrail) uuid() string {
	r := g.r
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()&(1<<48-1))
}

// Record returns the next record, of account acct (one of Accounts drawn at random when "").
func (g *CloudTrail) Record(acct string) json.RawMessage {
	r := g.r
	g.t = g.t.Add(time.Duration(r.IntN(400)) * time.Millisecond)
	t := g.t
	c := calls[r.IntN(len(calls))]
	if acct == "" {
		acct = Accounts[r.IntN(len(Accounts))]
	}
	role := g.roles[r.IntN(len(g.roles))]
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
		"awsRegion": regions[r.IntN(len(regions))], "sourceIPAddress": g.ips[r.IntN(len(g.ips))], "userAgent": agents[r.IntN(len(agents))],
		"requestID": g.uuid(), "eventID": g.uuid(), "readOnly": strings.HasPrefix(c.name, "Get") || strings.HasPrefix(c.name, "Describe") || strings.HasPrefix(c.name, "List"),
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
		rec["requestParameters"] = map[string]any{"roleArn": "arn:aws:iam::" + acct + ":role/" + g.roles[r.IntN(len(g.roles))], "roleSessionName": session, "durationSeconds": 3600}
		rec["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": fmt.Sprintf("ASIA%016X", r.Uint64()), "sessionToken": fmt.Sprintf("%x", r.Uint64()), "expiration": t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")}}
	case "ec2":
		rec["requestParameters"] = map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": fmt.Sprintf("i-%017x", r.Uint64()>>4)}}}, "filterSet": map[string]any{}}
	case "kms":
		rec["requestParameters"] = map[string]any{"keyId": "arn:aws:kms:us-east-1:" + acct + ":key/" + g.uuid(), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
		rec["resources"] = []any{map[string]any{"accountId": acct, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:" + acct + ":key/" + g.uuid()}}
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
	return b
}

// FlowHeader is the header line of a default-format (v2) VPC flow log file.
const FlowHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"

// Flow generates default-format (v2) VPC flow log lines: traffic between addresses inside a VPC and
// random ones outside, in both directions, on common service ports.
type Flow struct {
	r    *rand.Rand
	enis []string
}

// NewFlow returns a generator of flow log lines.
func NewFlow(seed uint64) *Flow {
	g := &Flow{r: rand.New(rand.NewPCG(seed, 13)), enis: make([]string, 40)}
	for i := range g.enis {
		g.enis[i] = fmt.Sprintf("eni-%017x", g.r.Uint64()>>4)
	}
	return g
}

var flowPorts = []int{443, 443, 443, 80, 22, 53, 123, 3306, 5432, 6379, 8080}

// AppendLine appends the next line, of a flow that starts at Unix time start, to b.
func (g *Flow) AppendLine(b []byte, start int64) []byte {
	r := g.r
	src := fmt.Sprintf("10.0.%d.%d", r.IntN(16), 1+r.IntN(254))
	dst := fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	sp, dp := 32768+r.IntN(28000), flowPorts[r.IntN(len(flowPorts))]
	if r.IntN(2) == 0 {
		src, dst, sp, dp = dst, src, dp, sp
	}
	pk := 1 + r.IntN(200)
	action := "ACCEPT"
	if r.IntN(8) == 0 {
		action = "REJECT"
	}
	return fmt.Appendf(b, "2 123456789012 %s %s %s %d %d %d %d %d %d %d %s OK\n", g.enis[r.IntN(len(g.enis))], src, dst, sp, dp,
		[]int{6, 6, 6, 17, 1}[r.IntN(5)], pk, pk*(40+r.IntN(1400)), start, start+int64(r.IntN(60)), action)
}
