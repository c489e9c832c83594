package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ct is one CloudTrail record, its fields in the order CloudTrail writes them.
type ct struct {
	EventVersion                 string          `json:"eventVersion"`
	UserIdentity                 json.RawMessage `json:"userIdentity"`
	EventTime                    string          `json:"eventTime"`
	EventSource                  string          `json:"eventSource"`
	EventName                    string          `json:"eventName"`
	AwsRegion                    string          `json:"awsRegion"`
	SourceIPAddress              string          `json:"sourceIPAddress"`
	UserAgent                    string          `json:"userAgent"`
	ErrorCode                    string          `json:"errorCode,omitempty"`
	ErrorMessage                 string          `json:"errorMessage,omitempty"`
	RequestParameters            json.RawMessage `json:"requestParameters"`
	ResponseElements             json.RawMessage `json:"responseElements"`
	AdditionalEventData          json.RawMessage `json:"additionalEventData,omitempty"`
	RequestID                    string          `json:"requestID,omitempty"`
	EventID                      string          `json:"eventID"`
	ReadOnly                     bool            `json:"readOnly"`
	Resources                    json.RawMessage `json:"resources,omitempty"`
	EventType                    string          `json:"eventType"`
	ManagementEvent              bool            `json:"managementEvent"`
	RecipientAccountID           string          `json:"recipientAccountId"`
	EventCategory                string          `json:"eventCategory"`
	TLSDetails                   json.RawMessage `json:"tlsDetails,omitempty"`
	SessionCredentialFromConsole string          `json:"sessionCredentialFromConsole,omitempty"`
}

// actor is who makes a call.
type actor struct {
	typ       string // IAMUser, AssumedRole, AWSService, Root
	acct      *Account
	user      string // IAM user name, or role name for AssumedRole
	principal string // AIDA... or AROA...
	keyID     string
	session   string
	mfa       bool
	console   bool
	ip, ua    string
	invokedBy string
}

func (a *actor) identity(t time.Time) json.RawMessage {
	var b bytes.Buffer
	switch a.typ {
	case "IAMUser":
		fmt.Fprintf(&b, `{"type":"IAMUser","principalId":%q,"arn":"arn:aws:iam::%s:user/%s","accountId":%q,"accessKeyId":%q,"userName":%q`,
			a.principal, a.acct.ID, a.user, a.acct.ID, a.keyID, a.user)
		if a.console {
			fmt.Fprintf(&b, `,"sessionContext":{"attributes":{"creationDate":%q,"mfaAuthenticated":"%t"}}`, ts(t.Truncate(time.Hour)), a.mfa)
		}
		b.WriteByte('}')
	case "AssumedRole":
		fmt.Fprintf(&b, `{"type":"AssumedRole","principalId":"%s:%s","arn":"arn:aws:sts::%s:assumed-role/%s/%s","accountId":%q,"accessKeyId":%q,`+
			`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":%q,"arn":"arn:aws:iam::%s:role/%s","accountId":%q,"userName":%q},`+
			`"attributes":{"creationDate":%q,"mfaAuthenticated":"false"}}`,
			a.principal, a.session, a.acct.ID, a.user, a.session, a.acct.ID, a.keyID, a.principal, a.acct.ID, a.user, a.acct.ID, a.user,
			ts(t.Truncate(time.Hour)))
		if a.invokedBy != "" {
			fmt.Fprintf(&b, `,"invokedBy":%q`, a.invokedBy)
		}
		b.WriteByte('}')
	case "AWSService":
		fmt.Fprintf(&b, `{"type":"AWSService","invokedBy":%q}`, a.invokedBy)
	case "Root":
		fmt.Fprintf(&b, `{"type":"Root","principalId":%q,"arn":"arn:aws:iam::%s:root","accountId":%q,"accessKeyId":%q}`, a.acct.ID, a.acct.ID, a.acct.ID, a.keyID)
	}
	return b.Bytes()
}

// call is one API call to render.
type call struct {
	source, name string
	readOnly     bool
	params, resp string // JSON objects, "" for null
	errCode      string
	errMsg       string
	extra        string // additionalEventData
	resources    string
	eventType    string // default AwsApiCall
	category     string // default Management
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func raw(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

// ctRecord renders a call made by a in region at t.
func ctRecord(r *rand.Rand, a *actor, region string, t time.Time, c call) []byte {
	e := ct{EventVersion: "1.10", UserIdentity: a.identity(t), EventTime: ts(t), EventSource: c.source, EventName: c.name,
		AwsRegion: region, SourceIPAddress: a.ip, UserAgent: a.ua, ErrorCode: c.errCode, ErrorMessage: c.errMsg,
		RequestParameters: raw(c.params), ResponseElements: raw(c.resp), EventID: uuid(r), ReadOnly: c.readOnly,
		EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: a.acct.ID, EventCategory: "Management"}
	if c.extra != "" {
		e.AdditionalEventData = json.RawMessage(c.extra)
	}
	if c.resources != "" {
		e.Resources = json.RawMessage(c.resources)
	}
	if c.eventType != "" {
		e.EventType = c.eventType
	}
	if c.category != "" {
		e.EventCategory = c.category
		e.ManagementEvent = c.category == "Management"
	}
	if a.typ == "AWSService" {
		e.SourceIPAddress, e.UserAgent = a.invokedBy, a.invokedBy
	} else {
		e.RequestID = uuid(r)
		host := strings.TrimSuffix(c.source, ".amazonaws.com") + "." + region + ".amazonaws.com"
		if c.source == "iam.amazonaws.com" || c.source == "signin.amazonaws.com" {
			host = strings.TrimSuffix(c.source, ".amazonaws.com") + ".amazonaws.com"
		}
		if c.source == "signin.amazonaws.com" {
			host = "signin.aws.amazon.com"
			e.RequestID = ""
		}
		e.TLSDetails = json.RawMessage(fmt.Sprintf(`{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":%q}`, host))
		if a.console && c.source != "signin.amazonaws.com" {
			e.SessionCredentialFromConsole = "true"
		}
	}
	b, err := json.Marshal(&e)
	if err != nil {
		panic(err) // every field is a string, a bool or JSON we wrote
	}
	return b
}

// ctFrame writes CloudTrail's {"Records":[...]} object.
func ctFrame(s *stream, recs []rec, buf *bytes.Buffer) []int64 {
	buf.WriteString(`{"Records":[`)
	offs := make([]int64, len(recs))
	for i, rc := range recs {
		if i > 0 {
			buf.WriteByte(',')
		}
		offs[i] = int64(buf.Len())
		buf.Write(rc.b)
	}
	buf.WriteString("]}")
	return offs
}

// ctKey: an organization trail delivering to the log archive bucket, one object per window.
func ctKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every).Add(time.Duration(r.IntN(240)) * time.Second)
	return fmt.Sprintf("AWSLogs/%s/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", g.org.ID, s.acct.ID, s.region,
		from.Format("2006/01/02"), s.acct.ID, s.region, d.Format("20060102T1504Z"), randString(r, alnum, 16))
}

// The benign API mix: what services, pipelines and people call, with plausible parameters.
var serviceCalls = []struct {
	weight int
	kind   string // role kind that makes it
	make   func(r *rand.Rand, a *Account, region string) call
}{
	{30, "lambda", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "kms.amazonaws.com", name: "Decrypt", readOnly: true,
			params:    `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
			resources: fmt.Sprintf(`[{"accountId":%q,"type":"AWS::KMS::Key","ARN":"arn:aws:kms:%s:%s:key/%s"}]`, a.ID, region, a.ID, a.kmsKey)}
	}},
	{20, "lambda", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "secretsmanager.amazonaws.com", name: "GetSecretValue", readOnly: true,
			params: fmt.Sprintf(`{"secretId":"arn:aws:secretsmanager:%s:%s:secret:prod/orders/db-AbCdEf"}`, region, a.ID)}
	}},
	{25, "instance", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "ssm.amazonaws.com", name: pick(r, []string{"UpdateInstanceInformation", "ListInstanceAssociations"}), readOnly: false,
			params: fmt.Sprintf(`{"instanceId":"i-%s","agentVersion":"3.3.1142.0"}`, randString(r, hexDigits, 17))}
	}},
	{15, "instance", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "ssm.amazonaws.com", name: "GetParameter", readOnly: true, params: `{"name":"/shop/config/feature-flags","withDecryption":true}`}
	}},
	{20, "monitoring", func(r *rand.Rand, a *Account, region string) call {
		name := pick(r, []string{"DescribeInstances", "DescribeVolumes", "DescribeSecurityGroups", "DescribeTags"})
		return call{source: "ec2.amazonaws.com", name: name, readOnly: true, params: `{"maxResults":1000}`}
	}},
	{15, "monitoring", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "monitoring.amazonaws.com", name: "GetMetricData", readOnly: true, params: `{"maxDatapoints":1440}`}
	}},
	{10, "monitoring", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "tagging.amazonaws.com", name: "GetResources", readOnly: true, params: `{"resourcesPerPage":100}`}
	}},
	{10, "ci", func(r *rand.Rand, a *Account, region string) call {
		return call{source: "ecr.amazonaws.com", name: "GetAuthorizationToken", readOnly: true, params: `{}`}
	}},
}

// sdkUA is the user agent of service code calling AWS.
var sdkUAs = []string{
	"aws-sdk-java/2.29.29 Linux/5.10.228-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
	"Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#5.10.228-219.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.76",
	"aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/ssm#1.56.0",
	"Datadog/Crawler (+https://docs.datadoghq.com/integrations/amazon_web_services/)",
}

func roleActor(r *rand.Rand, a *Account, ro *role, ip string) *actor {
	sess := map[string]string{"lambda": "order-processor", "instance": "i-0" + randString(r, hexDigits, 16),
		"monitoring": "DatadogAWSIntegration", "ci": "GitHubActions", "admin": "admin"}[ro.kind]
	ua := sdkUAs[0]
	switch ro.kind {
	case "lambda":
		ua = sdkUAs[1]
	case "instance":
		ua = sdkUAs[2]
	case "monitoring":
		ua = sdkUAs[3]
	case "ci":
		ua = "aws-cli/2.22.10 md/awscrt#0.23.4 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#ecs.update-service"
	}
	return &actor{typ: "AssumedRole", acct: a, user: ro.name, principal: ro.id, session: sess,
		keyID: "ASIA" + randString(r, upperDigits, 16), ip: ip, ua: ua}
}

// ctBenign: services around the clock, people in office hours, deployments on weekdays.
func ctBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	a := s.acct
	base := map[string]float64{"prod": 500, "dev": 250, "security": 120, "log-archive": 40}[a.Kind] * g.rate
	if s.region != a.Regions[0] {
		base *= .35
	}
	scale := float64(s.every) / float64(time.Hour)
	f := diurnal(from.Hour(), from.Weekday())*.6 + .4
	n := poisson(r, base*scale*f)
	for i := 0; i < n; i++ {
		t := at(r, from, s.every)
		sc := serviceCalls[weighted(r)]
		ro := a.role(sc.kind)
		if ro == nil {
			ro = a.role("monitoring")
		}
		ip := "3." + fmt.Sprint(80+r.IntN(160)) + "." + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(1+r.IntN(254))
		if ro.kind == "lambda" || ro.kind == "instance" {
			ip = pick(r, []string{"52.", "54.", "44."}) + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(1+r.IntN(254))
		}
		out = append(out, rec{t: t, b: ctRecord(r, roleActor(r, a, ro, ip), s.region, t, sc.make(r, a, s.region))})
	}
	// AWS services assuming roles on the account's behalf.
	for i, m := 0, poisson(r, base*scale*.15); i < m; i++ {
		t := at(r, from, s.every)
		svc := pick(r, []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"})
		ro := pick(r, a.roles)
		act := &actor{typ: "AWSService", acct: a, invokedBy: svc}
		out = append(out, rec{t: t, b: ctRecord(r, act, s.region, t, call{source: "sts.amazonaws.com", name: "AssumeRole", readOnly: true,
			params: fmt.Sprintf(`{"roleArn":"arn:aws:iam::%s:role/%s","roleSessionName":"%s"}`, a.ID, ro.name, randString(r, hexDigits, 12)),
			resp:   fmt.Sprintf(`{"credentials":{"accessKeyId":"ASIA%s","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"%s"}}`, randString(r, upperDigits, 16), t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")),
		})})
	}
	// Deployments: the CI role, weekdays in working hours (UTC 8-18), a burst of calls each.
	if ci := a.role("ci"); ci != nil && s.region == a.Regions[0] && from.Weekday() != time.Saturday && from.Weekday() != time.Sunday &&
		from.Hour() >= 8 && from.Hour() < 18 && r.Float64() < .35*scale*4*min(g.rate, 2) {
		t0 := at(r, from, s.every-10*time.Minute)
		act := roleActor(r, a, ci, "20."+fmt.Sprint(r.IntN(256))+"."+fmt.Sprint(r.IntN(256))+"."+fmt.Sprint(1+r.IntN(254)))
		for k, c := range deployCalls(r, a, s.region) {
			t := t0.Add(time.Duration(k*3+r.IntN(3)) * time.Second)
			out = append(out, rec{t: t, b: ctRecord(r, act, s.region, t, c)})
		}
	}
	// People: a console sign-in at the start of their working day, then console and CLI calls.
	for _, h := range g.org.humansOf(a) {
		if s.region != a.Regions[0] {
			break
		}
		lt := from.In(h.tz)
		wd := lt.Weekday()
		if wd == time.Saturday || wd == time.Sunday || lt.Hour() < 8 || lt.Hour() >= 18 {
			continue
		}
		// whether this person works in this account today, and when they sign in
		dr := rand.New(rand.NewPCG(uint64(g.cfg.Seed), uint64(lt.YearDay())*7919+uint64(len(h.User))*31+uint64(a.ID[11])))
		if dr.Float64() < .3 {
			continue
		}
		startHour := 8 + dr.IntN(3)
		ip := h.officeIP
		if dr.Float64() < .4 {
			ip = h.homeIP
		}
		u := &actor{typ: "IAMUser", acct: a, user: h.User, principal: h.userID, keyID: "ASIA" + randString(r, upperDigits, 16),
			mfa: true, console: true, ip: ip, ua: h.ua}
		if lt.Hour() == startHour && from.Minute() < int(s.every/time.Minute) {
			t := at(r, from, s.every)
			if dr.Float64() < .04 { // a mistyped password first, now and then
				out = append(out, rec{t: t.Add(-40 * time.Second), b: consoleLogin(r, u, t.Add(-40*time.Second), false)})
			}
			out = append(out, rec{t: t, b: consoleLogin(r, u, t, true)})
		}
		if lt.Hour() < startHour {
			continue
		}
		for i, m := 0, poisson(r, 40*scale*g.rate); i < m; i++ {
			t := at(r, from, s.every)
			c := humanCall(r, a, s.region)
			act := u
			if r.IntN(4) == 0 {
				cli := *u
				cli.console, cli.ua, cli.keyID = false, h.cliUA, h.keyID
				act = &cli
			}
			out = append(out, rec{t: t, b: ctRecord(r, act, s.region, t, c)})
		}
	}
	return out
}

var cumWeights = func() []int {
	var c []int
	s := 0
	for _, sc := range serviceCalls {
		s += sc.weight
		c = append(c, s)
	}
	return c
}()

func weighted(r *rand.Rand) int {
	x := r.IntN(cumWeights[len(cumWeights)-1])
	for i, c := range cumWeights {
		if x < c {
			return i
		}
	}
	return 0
}

func consoleLogin(r *rand.Rand, u *actor, t time.Time, ok bool) []byte {
	res, extra := "Success", fmt.Sprintf(`{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%%23&isauthcode=true","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::%s:mfa/%s","MFAUsed":"Yes"}`, u.acct.ID, u.user)
	if !u.mfa {
		extra = `{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAUsed":"No"}`
	}
	c := call{source: "signin.amazonaws.com", name: "ConsoleLogin", resp: `{"ConsoleLogin":"Success"}`, extra: extra, eventType: "AwsConsoleSignIn"}
	if !ok {
		res = "Failure"
		c.resp = `{"ConsoleLogin":"Failure"}`
		c.errMsg = "Failed authentication"
		c.extra = `{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAUsed":"No"}`
	}
	_ = res
	li := *u
	li.console, li.keyID = false, ""
	b := ctRecord(r, &li, "us-east-1", t, c)
	// A sign-in has no access key and no session: drop the empty accessKeyId.
	return bytes.Replace(b, []byte(`"accessKeyId":"",`), nil, 1)
}

func humanCall(r *rand.Rand, a *Account, region string) call {
	switch r.IntN(9) {
	case 0:
		return call{source: "s3.amazonaws.com", name: "ListBuckets", readOnly: true, params: fmt.Sprintf(`{"Host":"s3.%s.amazonaws.com"}`, region)}
	case 1:
		return call{source: "cloudwatch.amazonaws.com", name: "DescribeAlarms", readOnly: true, params: `{"maxRecords":100}`}
	case 2:
		return call{source: "logs.amazonaws.com", name: "FilterLogEvents", readOnly: true,
			params: fmt.Sprintf(`{"logGroupName":"/aws/lambda/order-processor","startTime":%d,"limit":100}`, 1772400000000+r.Int64N(9e8))}
	case 3:
		return call{source: "ecs.amazonaws.com", name: "DescribeServices", readOnly: true, params: `{"cluster":"shop","services":["web","api"]}`}
	case 4:
		return call{source: "cloudformation.amazonaws.com", name: "DescribeStacks", readOnly: true, params: `{"stackName":"shop-web"}`}
	case 5:
		return call{source: "iam.amazonaws.com", name: pick(r, []string{"ListRoles", "GetRole", "ListPolicies"}), readOnly: true, params: `{"maxItems":100}`}
	case 6:
		return call{source: "rds.amazonaws.com", name: "DescribeDBInstances", readOnly: true, params: `{"maxRecords":100}`}
	case 7:
		return call{source: "health.amazonaws.com", name: "DescribeEventAggregates", readOnly: true, params: `{"aggregateField":"eventTypeCategory"}`}
	}
	return call{source: "ec2.amazonaws.com", name: "DescribeInstances", readOnly: true, params: `{"instancesSet":{},"filterSet":{}}`}
}

func deployCalls(r *rand.Rand, a *Account, region string) []call {
	img := randString(r, hexDigits, 40)
	return []call{
		{source: "sts.amazonaws.com", name: "GetCallerIdentity", readOnly: true},
		{source: "ecr.amazonaws.com", name: "GetAuthorizationToken", readOnly: true, params: `{}`},
		{source: "ecr.amazonaws.com", name: "InitiateLayerUpload", params: `{"repositoryName":"shop/web"}`},
		{source: "ecr.amazonaws.com", name: "CompleteLayerUpload", params: `{"repositoryName":"shop/web"}`},
		{source: "ecr.amazonaws.com", name: "PutImage", params: fmt.Sprintf(`{"repositoryName":"shop/web","imageTag":"%s"}`, img[:12])},
		{source: "ecs.amazonaws.com", name: "RegisterTaskDefinition", params: fmt.Sprintf(`{"family":"shop-web","containerDefinitions":[{"name":"web","image":"%s.dkr.ecr.%s.amazonaws.com/shop/web:%s"}]}`, a.ID, region, img[:12])},
		{source: "ecs.amazonaws.com", name: "UpdateService", params: `{"cluster":"shop","service":"web","forceNewDeployment":false}`},
		{source: "ecs.amazonaws.com", name: "DescribeServices", readOnly: true, params: `{"cluster":"shop","services":["web"]}`},
	}
}
