package gen

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Rules of ramen's built-in pack that the scenarios are expected to raise.
var (
	ruleTrailStopped      = Detection{"d129aac0-aaeb-4125-a04f-b60f6702a29a", "AWS CloudTrail Trail Stopped Or Deleted"}
	ruleLoginFailed       = Detection{"82754dc1-04f4-4801-a626-e99613a94e84", "AWS Console Login Failure"}
	ruleLoginNoMFA        = Detection{"0c9ea863-fba0-4bd1-9f9b-b0c1075f2a63", "AWS Console Login Without MFA"}
	ruleKeyForOther       = Detection{"4526b113-ddcf-4767-a1ac-acdd7f75428f", "AWS IAM Access Key Created For Another User"}
	ruleAdminAttached     = Detection{"3144187d-657c-429f-8f74-32ba327c5f24", "AWS AdministratorAccess Policy Attached"}
	ruleLoginForOther     = Detection{"d87d0746-fcd8-479a-b162-cb718e4f92b1", "AWS Console Password Set For Another IAM User"}
	ruleDeniedBurst       = Detection{"62aebcef-7700-41bd-be29-5b51d199f9b5", "AWS Burst Of Access Denied Errors From One Principal"}
	ruleBruteForce        = Detection{"1d8a12c8-c7a4-469a-8e13-f6613967a3a0", "AWS Console Login Failures From One Address"}
	ruleLoginThenPriv     = Detection{"21a70b04-2f9e-4fc4-a195-c83b0f7ff6d7", "AWS Console Login Followed By An IAM Privilege Change"}
	ruleSGOpen            = Detection{"ff772c8f-a37f-4242-8e2e-ebe13ad7feae", "AWS Security Group Ingress Opened To The Internet"}
	ruleGDHigh            = Detection{"1e0244ff-d0e4-4072-a86a-49b23cd79eb9", "AWS GuardDuty High Severity Finding"}
	rulePortScan          = Detection{"93ce6502-3b4a-491b-91a2-89f7f09c8a3f", "AWS VPC Flow Port Scan From One Source"}
	ruleRejectFromNet     = Detection{"0772dcff-4215-4d28-851f-97491b873f80", "AWS VPC Flow Rejected From An Internet Address"}
	ruleWAFBurst          = Detection{"1eef1619-7120-45d3-bf6a-df27f17cd9eb", "AWS WAF Burst Of Blocked Requests From One Client"}
	ruleWAFSQLi           = Detection{"556c3bc9-8b83-43a0-a5b2-3cd8874dbc2f", "AWS WAF SQL Injection Match"}
	pendingNewCountry     = "baseline: first sign-in or API use from a new country or network"
	pendingVolume         = "baseline: spike in S3 reads by one principal"
	pendingIntel          = "threat intelligence: traffic to a known-bad address or domain"
	pendingOffHours       = "baseline: activity outside the principal's usual hours"
	pendingMaintenance    = "baseline: activity outside an approved maintenance window"
	pendingSilence        = "source silence: a log source that stopped delivering"
	pendingImpossibleTrip = "baseline: impossible travel"
)

// KnownBadIP is the mining pool address of the crypto-mining scenario, the kind of address a threat
// intelligence feed lists (it is in a documentation range, so it reaches no one).
const KnownBadIP = "203.0.113.66"

// day returns midnight of the scenario's day: frac of the way through the generated days.
func (g *gen) day(frac float64) time.Time {
	d := int(frac * float64(g.cfg.Days))
	return g.cfg.Start.Add(time.Duration(min(d, g.cfg.Days-1)) * 24 * time.Hour)
}

func (g *gen) scenario(s *Scenario) *Scenario {
	g.truth.Scenarios = append(g.truth.Scenarios, s)
	return s
}

// addScenarios weaves every attack into the streams.
func (g *gen) addScenarios() {
	r := rand.New(rand.NewPCG(uint64(g.cfg.Seed), 0x61747461636b))
	g.leakedKey(r)
	g.consoleNoMFA(r)
	g.portScan(r)
	g.sqlInjection(r)
	g.cryptoMining(r)
	g.insider(r)
	g.silentSource()
}

func (g *gen) leakedKey(r *rand.Rand) {
	a := g.org.byKind("prod")
	const id = "leaked-access-key"
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "Leaked access key: enumeration, a new admin user, CloudTrail stopped, S3 data copied out",
		Description: "The access key of svc-reporting, an over-privileged IAM user, leaked and is used from a hosting network abroad with a " +
			"pentest distribution's CLI: the caller checks who it is, enumerates IAM, S3 and EC2 (many calls denied), creates the IAM user " +
			"backup-admin with AdministratorAccess, an access key and a console password, stops the account's own trail, and reads the " +
			"customer data bucket object by object (CloudTrail data events).",
		Detections: []Detection{ruleDeniedBurst, ruleAdminAttached, ruleKeyForOther, ruleLoginForOther, ruleTrailStopped},
		Pending:    []string{pendingNewCountry, pendingVolume}})
	region := a.Regions[0]
	s := g.stream("cloudtrail", a, region)
	ip := publicIP(r)
	u := &actor{typ: "IAMUser", acct: a, user: "svc-reporting", principal: "AIDA" + randString(r, upperDigits, 17),
		keyID: "AKIA" + randString(r, upperDigits, 16), ip: ip,
		ua: "aws-cli/1.22.34 Python/3.11.2 Linux/6.5.0-kali3-amd64 botocore/1.23.34"}
	t := g.day(.6).Add(2*time.Hour + 13*time.Minute + time.Duration(r.IntN(600))*time.Second)
	step := func(c call) {
		t = t.Add(time.Duration(2+r.IntN(9)) * time.Second)
		g.inject(s, t, ctRecord(r, u, region, t, c), id)
	}
	step(call{source: "sts.amazonaws.com", name: "GetCallerIdentity", readOnly: true})
	step(call{source: "iam.amazonaws.com", name: "ListUsers", readOnly: true})
	step(call{source: "iam.amazonaws.com", name: "ListRoles", readOnly: true})
	step(call{source: "iam.amazonaws.com", name: "ListAttachedUserPolicies", readOnly: true, params: `{"userName":"svc-reporting"}`})
	step(call{source: "s3.amazonaws.com", name: "ListBuckets", readOnly: true, params: fmt.Sprintf(`{"Host":"s3.%s.amazonaws.com"}`, region)})
	denied := []call{
		{source: "ec2.amazonaws.com", name: "DescribeInstances", readOnly: true, errCode: "Client.UnauthorizedOperation", errMsg: "You are not authorized to perform this operation. User: arn:aws:iam::" + a.ID + ":user/svc-reporting is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"},
		{source: "secretsmanager.amazonaws.com", name: "ListSecrets", readOnly: true, errCode: "AccessDenied", errMsg: "User: arn:aws:iam::" + a.ID + ":user/svc-reporting is not authorized to perform: secretsmanager:ListSecrets"},
		{source: "rds.amazonaws.com", name: "DescribeDBInstances", readOnly: true, errCode: "AccessDenied", errMsg: "User: arn:aws:iam::" + a.ID + ":user/svc-reporting is not authorized to perform: rds:DescribeDBInstances"},
		{source: "lambda.amazonaws.com", name: "ListFunctions20150331", readOnly: true, errCode: "AccessDenied", errMsg: "User: arn:aws:iam::" + a.ID + ":user/svc-reporting is not authorized to perform: lambda:ListFunctions"},
	}
	for i := 0; i < 14; i++ {
		step(denied[i%len(denied)])
	}
	newUser := "backup-admin"
	step(call{source: "iam.amazonaws.com", name: "CreateUser", params: fmt.Sprintf(`{"userName":%q}`, newUser),
		resp: fmt.Sprintf(`{"user":{"path":"/","userName":%q,"userId":"AIDA%s","arn":"arn:aws:iam::%s:user/%s","createDate":"%s"}}`, newUser, randString(r, upperDigits, 17), a.ID, newUser, t.Format("Jan 2, 2006, 3:04:05 PM"))})
	step(call{source: "iam.amazonaws.com", name: "AttachUserPolicy", params: fmt.Sprintf(`{"userName":%q,"policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`, newUser)})
	newKey := "AKIA" + randString(r, upperDigits, 16)
	step(call{source: "iam.amazonaws.com", name: "CreateAccessKey", params: fmt.Sprintf(`{"userName":%q}`, newUser),
		resp: fmt.Sprintf(`{"accessKey":{"userName":%q,"accessKeyId":%q,"status":"Active","createDate":"%s"}}`, newUser, newKey, t.Format("Jan 2, 2006, 3:04:05 PM"))})
	step(call{source: "iam.amazonaws.com", name: "CreateLoginProfile", params: fmt.Sprintf(`{"userName":%q,"passwordResetRequired":false}`, newUser),
		resp: fmt.Sprintf(`{"loginProfile":{"userName":%q,"createDate":"%s","passwordResetRequired":false}}`, newUser, t.Format("Jan 2, 2006, 3:04:05 PM"))})
	t = t.Add(3 * time.Minute)
	u = &actor{typ: "IAMUser", acct: a, user: newUser, principal: "AIDA" + randString(r, upperDigits, 17), keyID: newKey, ip: ip, ua: u.ua}
	step(call{source: "cloudtrail.amazonaws.com", name: "DescribeTrails", readOnly: true, params: `{"includeShadowTrails":true}`})
	step(call{source: "cloudtrail.amazonaws.com", name: "StopLogging", params: fmt.Sprintf(`{"name":"arn:aws:cloudtrail:%s:%s:trail/prod-account-trail"}`, region, a.ID)})
	step(call{source: "s3.amazonaws.com", name: "ListObjects", readOnly: true, category: "Data",
		params: fmt.Sprintf(`{"bucketName":%q,"Host":"%s.s3.%s.amazonaws.com","prefix":"exports/"}`, a.bucket, a.bucket, region)})
	for i := 0; i < 120; i++ {
		obj := fmt.Sprintf("exports/customers/2026/part-%05d.csv.gz", i)
		t = t.Add(time.Duration(300+r.IntN(900)) * time.Millisecond)
		c := call{source: "s3.amazonaws.com", name: "GetObject", readOnly: true, category: "Data",
			params:    fmt.Sprintf(`{"bucketName":%q,"Host":"%s.s3.%s.amazonaws.com","key":%q}`, a.bucket, a.bucket, region, obj),
			extra:     fmt.Sprintf(`{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"%s","bytesTransferredOut":%d}`, randString(r, alnum, 76), 4<<20+r.IntN(4<<20)),
			resources: fmt.Sprintf(`[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::%s/%s"},{"accountId":%q,"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%s"}]`, a.bucket, obj, a.ID, a.bucket)}
		g.inject(s, t, ctRecord(r, u, region, t, c), id)
		g.s3Exfil(r, a, ip, u, obj, t, id)
	}
}

func (g *gen) consoleNoMFA(r *rand.Rand) {
	a := g.org.byKind("prod")
	const id = "console-login-no-mfa"
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "Password guessing, console sign-in without MFA from a new country, SSH opened to the world",
		Description: "Someone guesses the password of build-admin, a legacy IAM user with a console password and no MFA device: six failed " +
			"sign-ins from one address, then a successful one without MFA late at night. Within minutes the session creates an access key " +
			"for itself and opens SSH (tcp/22) on the web tier's security group to 0.0.0.0/0.",
		Detections: []Detection{ruleLoginFailed, ruleBruteForce, ruleLoginNoMFA, ruleLoginThenPriv, ruleSGOpen},
		Pending:    []string{pendingNewCountry, pendingImpossibleTrip}})
	s := g.stream("cloudtrail", a, "us-east-1")
	u := &actor{typ: "IAMUser", acct: a, user: "build-admin", principal: "AIDA" + randString(r, upperDigits, 17), ip: publicIP(r),
		ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36"}
	t := g.day(.4).Add(22*time.Hour + 41*time.Minute)
	for i := 0; i < 6; i++ {
		t = t.Add(time.Duration(15+r.IntN(25)) * time.Second)
		g.inject(s, t, consoleLogin(r, u, t, false), id)
	}
	t = t.Add(50 * time.Second)
	g.inject(s, t, consoleLogin(r, u, t, true), id)
	sess := *u
	sess.console, sess.keyID = true, "ASIA"+randString(r, upperDigits, 16)
	step := func(d time.Duration, c call) {
		t = t.Add(d)
		g.inject(s, t, ctRecord(r, &sess, "us-east-1", t, c), id)
	}
	step(40*time.Second, call{source: "ec2.amazonaws.com", name: "DescribeSecurityGroups", readOnly: true, params: `{"securityGroupSet":{},"filterSet":{}}`})
	step(95*time.Second, call{source: "iam.amazonaws.com", name: "CreateAccessKey", params: `{"userName":"build-admin"}`,
		resp: fmt.Sprintf(`{"accessKey":{"userName":"build-admin","accessKeyId":"AKIA%s","status":"Active","createDate":"%s"}}`, randString(r, upperDigits, 16), t.Format("Jan 2, 2006, 3:04:05 PM"))})
	sg := "sg-0" + randString(r, hexDigits, 16)
	step(70*time.Second, call{source: "ec2.amazonaws.com", name: "AuthorizeSecurityGroupIngress",
		params: fmt.Sprintf(`{"groupId":%q,"ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}`, sg),
		resp:   fmt.Sprintf(`{"requestId":%q,"_return":true,"securityGroupRuleSet":{"items":[{"groupOwnerId":%q,"groupId":%q,"securityGroupRuleId":"sgr-0%s","isEgress":false,"ipProtocol":"tcp","fromPort":22,"toPort":22,"cidrIpv4":"0.0.0.0/0"}]}}`, uuid(r), a.ID, sg, randString(r, hexDigits, 16))})
}

func (g *gen) portScan(r *rand.Rand) {
	a := g.org.byKind("prod")
	const id = "port-scan"
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "Port scan from the internet",
		Description: "A scanner on the internet sweeps about 150 TCP ports of a load balancer's address in two minutes; the security " +
			"groups reject everything but 80 and 443.",
		Detections: []Detection{rulePortScan, ruleRejectFromNet}})
	v := a.vpcs[0]
	s := g.stream("vpcflow", a, v.region)
	lb := v.tier("alb")[0]
	src := publicIP(r)
	t := g.day(.2).Add(14*time.Hour + 7*time.Minute + time.Duration(r.IntN(120))*time.Second)
	ports := r.Perm(1024)[:150]
	for i, p := range ports {
		p++
		tt := t.Add(time.Duration(i) * 800 * time.Millisecond)
		action, pk, by := "REJECT", 1, 44
		if p == 80 || p == 443 {
			action, pk, by = "ACCEPT", 2, 88
		}
		g.inject(s, tt, flow(a.ID, lb, src, lb.ip, 40000+r.IntN(20000), p, 6, pk, by, tt, 1, action), id)
	}
}

func (g *gen) cryptoMining(r *rand.Rand) {
	a := g.org.byKind("dev")
	const id = "crypto-mining"
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "Crypto-mining instance launched by a stolen CI role",
		Description: "The CI role's credentials are used from outside the CI provider to launch a large instance in the batch subnet. " +
			"It resolves a Monero pool's name, connects to the pool (" + KnownBadIP + ", tcp/3333) for hours, and GuardDuty reports " +
			"CryptoCurrency:EC2/BitcoinTool.B!DNS.",
		Detections: []Detection{ruleGDHigh},
		Pending:    []string{pendingIntel, pendingNewCountry}})
	v := a.vpcs[0]
	host := v.tier("batch")[0]
	ci := a.role("ci")
	act := roleActor(r, a, ci, publicIP(r))
	act.ua = "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.15.0-91-generic md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.2"
	t := g.day(.5).Add(9*time.Hour + 3*time.Minute + time.Duration(r.IntN(600))*time.Second)
	cts := g.stream("cloudtrail", a, v.region)
	g.inject(cts, t, ctRecord(r, act, v.region, t, call{source: "ec2.amazonaws.com", name: "RunInstances",
		params: fmt.Sprintf(`{"instancesSet":{"items":[{"imageId":"ami-0%s","minCount":1,"maxCount":1}]},"instanceType":"c5.4xlarge","subnetId":"subnet-0%s","userData":"<sensitiveDataRemoved>"}`, randString(r, hexDigits, 16), randString(r, hexDigits, 16)),
		resp:   fmt.Sprintf(`{"requestId":%q,"reservationId":"r-0%s","ownerId":%q,"instancesSet":{"items":[{"instanceId":%q,"instanceType":"c5.4xlarge","privateIpAddress":%q}]}}`, uuid(r), randString(r, hexDigits, 16), a.ID, host.instance, host.ip)}), id)
	dns := g.stream("route53", a, v.region)
	vf := g.stream("vpcflow", a, v.region)
	start := t.Add(4 * time.Minute)
	for k := 0; k < 36; k++ { // six hours, one connection record every ten minutes
		tt := start.Add(time.Duration(k) * 10 * time.Minute).Add(time.Duration(r.IntN(30)) * time.Second)
		if k%6 == 0 {
			g.inject(dns, tt.Add(-time.Second), dnsQuery(dns, host, tt.Add(-time.Second), "pool.supportxmr.com.", "A", "NOERROR",
				fmt.Sprintf(`[{"Rdata":%q,"Type":"A","Class":"IN"}]`, KnownBadIP)), id)
		}
		pk := 400 + r.IntN(200)
		g.inject(vf, tt, flow(a.ID, host, host.ip, KnownBadIP, 42000+k, 3333, 6, pk, pk*120, tt, 598, "ACCEPT"), id)
		g.inject(vf, tt, flow(a.ID, host, KnownBadIP, host.ip, 3333, 42000+k, 6, pk, pk*90, tt, 598, "ACCEPT"), id)
	}
	g.gdFinding(r, a, v.region, start.Add(25*time.Minute), id, "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8, host)
}

func (g *gen) insider(r *rand.Rand) {
	a := g.org.byKind("security")
	const id = "insider-s3-read"
	var h *Human
	for _, x := range g.org.Humans {
		if x.Country == "GB" {
			h = x
		}
	}
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "Insider reads payroll files out of hours",
		Description: fmt.Sprintf("%s, who has access to the security account, lists and reads 40 objects of the HR payroll bucket "+
			"with the CLI at 02:30 their local time, from home, outside any maintenance window. Every call is allowed: "+
			"only a baseline of the person's hours and of who reads that bucket can tell.", h.User),
		Pending: []string{pendingOffHours, pendingMaintenance, pendingVolume}})
	region := a.Regions[0]
	s := g.stream("cloudtrail", a, region)
	u := &actor{typ: "IAMUser", acct: a, user: h.User, principal: h.userID, keyID: h.keyID, ip: h.homeIP, ua: h.cliUA}
	_, off := g.day(.8).In(h.tz).Zone() // 02:30 local is 02:30 minus the zone's offset in UTC
	t := g.day(.8).Add(2*time.Hour + 30*time.Minute - time.Duration(off)*time.Second)
	c := call{source: "s3.amazonaws.com", name: "ListObjects", readOnly: true, category: "Data",
		params: fmt.Sprintf(`{"bucketName":%q,"Host":"%s.s3.%s.amazonaws.com","prefix":"payroll/"}`, a.bucket, a.bucket, region)}
	g.inject(s, t, ctRecord(r, u, region, t, c), id)
	for i := 0; i < 40; i++ {
		t = t.Add(time.Duration(2+r.IntN(20)) * time.Second)
		obj := fmt.Sprintf("payroll/2026/%02d/salaries-%s.xlsx", 1+i%3, pick(r, []string{"engineering", "sales", "exec", "finance", "support"}))
		c := call{source: "s3.amazonaws.com", name: "GetObject", readOnly: true, category: "Data",
			params:    fmt.Sprintf(`{"bucketName":%q,"Host":"%s.s3.%s.amazonaws.com","key":%q}`, a.bucket, a.bucket, region, obj),
			resources: fmt.Sprintf(`[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::%s/%s"},{"accountId":%q,"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%s"}]`, a.bucket, obj, a.ID, a.bucket)}
		g.inject(s, t, ctRecord(r, u, region, t, c), id)
		g.s3Exfil(r, a, h.homeIP, u, obj, t, id)
	}
}

func (g *gen) silentSource() {
	a := g.org.byKind("dev")
	const id = "log-source-silent"
	s := g.stream("vpcflow", a, a.Regions[0])
	s.silentFrom = g.end.Add(-6 * time.Hour)
	g.scenario(&Scenario{ID: id, Account: a.ID, Start: s.silentFrom, End: g.end, Title: "A log source goes silent",
		Description: fmt.Sprintf("The dev account's VPC flow logs (%s, %s) stop arriving six hours before the end of the data, "+
			"as when someone deletes the flow log or breaks its bucket policy outside CloudTrail's view.", s.v.flowLog, s.v.id),
		Pending: []string{pendingSilence}})
}
