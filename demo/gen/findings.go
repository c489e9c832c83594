package gen

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// GuardDuty findings, exported by the security account (GuardDuty's delegated administrator) for the
// whole organization.

var detectorID = "6ec4a8b2f1d3e5c7a9b0d2f4e6a8c0b2"

func gdFindingJSON(r *rand.Rand, a *Account, region string, t time.Time, typ string, sev float64, host *eni, title, desc, action string) []byte {
	id := randString(r, hexDigits, 32)
	res := `{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0unknown","instanceType":"t3.medium","instanceState":"running"}}`
	if host != nil {
		res = fmt.Sprintf(`{"resourceType":"Instance","instanceDetails":{"instanceId":%q,"instanceType":%q,"launchTime":%q,"platform":null,"availabilityZone":%q,"imageId":"ami-0%s","instanceState":"running","networkInterfaces":[{"networkInterfaceId":%q,"privateIpAddress":%q,"subnetId":"subnet-0%s","vpcId":%q}],"tags":[{"key":"Name","value":"batch-worker"}]}}`,
			host.instance, map[bool]string{true: "c5.4xlarge", false: "m6i.large"}[host.tier == "batch"], t.Add(-30*time.Minute).Format("2006-01-02T15:04:05.000Z"), host.az, randString(r, hexDigits, 16), host.id, host.ip, randString(r, hexDigits, 16), host.vpc)
	}
	first := t.Add(-time.Duration(5+r.IntN(20)) * time.Minute)
	return fmt.Appendf(nil, `{"schemaVersion":"2.0","accountId":%q,"region":%q,"partition":"aws","id":%q,"arn":"arn:aws:guardduty:%s:%s:detector/%s/finding/%s","type":%q,"resource":%s,"service":{"serviceName":"guardduty","detectorId":%q,"action":%s,"resourceRole":"TARGET","additionalInfo":{"value":"{}","type":"default"},"eventFirstSeen":%q,"eventLastSeen":%q,"archived":false,"count":%d},"severity":%v,"createdAt":%q,"updatedAt":%q,"title":%q,"description":%q}`,
		a.ID, region, id, region, a.ID, detectorID, id, typ, res, detectorID, action,
		first.Format("2006-01-02T15:04:05.000Z"), t.Add(-time.Minute).Format("2006-01-02T15:04:05.000Z"), 1+r.IntN(9), sev,
		t.Format("2006-01-02T15:04:05.000Z"), t.Format("2006-01-02T15:04:05.000Z"), title, desc)
}

// gdFinding injects a finding into the security account's export.
func (g *gen) gdFinding(r *rand.Rand, a *Account, region string, t time.Time, scen, typ string, sev float64, host *eni) {
	s := g.stream("guardduty", g.org.byKind("security"), "")
	action := fmt.Sprintf(`{"actionType":"DNS_REQUEST","dnsRequestAction":{"domain":"pool.supportxmr.com","protocol":"UDP","blocked":false}}`)
	title := fmt.Sprintf("Bitcoin-related domain name queried by EC2 instance %s.", host.instance)
	desc := fmt.Sprintf("EC2 instance %s is querying a domain name that is associated with Bitcoin-related activity.", host.instance)
	g.inject(s, t, gdFindingJSON(r, a, region, t, typ, sev, host, title, desc, action), scen)
}

// gdBenign: the low-severity findings every organization has: probes of open ports, a port sweep
// from the internet, an unusual but harmless API caller.
func gdBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	var accts []*Account
	for _, a := range g.org.Accounts {
		if len(a.vpcs) > 0 {
			accts = append(accts, a)
		}
	}
	for i, m := 0, poisson(r, float64(len(accts))*1.2*float64(s.every)/float64(24*time.Hour)); i < m; i++ {
		a := pick(r, accts)
		v := pick(r, a.vpcs)
		t := at(r, from, s.every)
		ip := publicIP(r)
		var b []byte
		if r.IntN(2) == 0 {
			host := pick(r, v.tier("web"))
			b = gdFindingJSON(r, a, v.region, t, "Recon:EC2/PortProbeUnprotectedPort", 2, host,
				fmt.Sprintf("Unprotected port on EC2 instance %s is being probed.", host.instance),
				fmt.Sprintf("EC2 instance has an unprotected port which is being probed by a known malicious host."),
				fmt.Sprintf(`{"actionType":"PORT_PROBE","portProbeAction":{"blocked":false,"portProbeDetails":[{"localPortDetails":{"port":22,"portName":"SSH"},"remoteIpDetails":{"ipAddressV4":%q,"organization":{"asn":"%d","asnOrg":"HOSTING","isp":"Hosting","org":"Hosting"},"country":{"countryName":"Unknown"}}}]}}`, ip, 10000+r.IntN(50000)))
		} else {
			b = gdFindingJSON(r, a, v.region, t, "Policy:IAMUser/RootCredentialUsage", 2, nil,
				"API GetAccountSummary was invoked using root credentials.",
				"API GetAccountSummary was invoked using root credentials from IP address "+ip+".",
				fmt.Sprintf(`{"actionType":"AWS_API_CALL","awsApiCallAction":{"api":"GetAccountSummary","serviceName":"iam.amazonaws.com","callerType":"Remote IP","remoteIpDetails":{"ipAddressV4":%q,"country":{"countryName":"Unknown"}}}}`, ip))
		}
		out = append(out, rec{t: t, b: b})
	}
	return out
}

func gdKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	return fmt.Sprintf("AWSLogs/%s/GuardDuty/%s/%s/%s.jsonl.gz", s.acct.ID, s.region, from.Add(s.every).Format("2006/01/02"), uuid(r))
}

// S3 server access logs of the data buckets.

func s3Line(r *rand.Rand, bucket, owner string, t time.Time, ip, requester, op, key, method string, status int, size int, ua string) []byte {
	errc := "-"
	if status == 403 {
		errc = "AccessDenied"
	}
	uri := fmt.Sprintf("%s /%s?x-id=%s HTTP/1.1", method, key, map[string]string{"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject"}[method])
	sent := fmt.Sprint(size)
	if method != "GET" {
		sent = "-"
	}
	return fmt.Appendf(nil, `%s %s [%s] %s %s %s %s %s "%s" %d %s %s %d %d %d "-" "%s" - %s SigV4 TLS_AES_128_GCM_SHA256 AuthHeader %s.s3.us-east-1.amazonaws.com TLSv1.3 - -`,
		owner, bucket, t.Format("02/Jan/2006:15:04:05 -0700"), ip, requester, randString(r, "0123456789ABCDEF", 16), op, key, uri, status, errc,
		sent, size, 5+r.IntN(80), 2+r.IntN(30), ua, randString(r, alnum, 76)+"=", bucket)
}

func ownerID(a *Account) string {
	h := uint64(0xcbf29ce484222325)
	var b []byte
	for i := 0; i < 64; i++ {
		h ^= uint64(a.ID[i%12])
		h *= 0x100000001b3
		b = append(b, hexDigits[h>>60])
	}
	return string(b)
}

func s3Benign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	a := s.acct
	ro := a.role("lambda")
	req := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/order-processor", a.ID, "order-processor")
	if ro == nil { // the payroll bucket: the HR system's nightly export writes it
		req = fmt.Sprintf("arn:aws:sts::%s:assumed-role/payroll-export/payroll-sync", a.ID)
	}
	m := 60 * g.rate * diurnal(from.Hour(), from.Weekday())
	if a.Kind == "security" {
		m = 3 * g.rate
	}
	for i, n := 0, poisson(r, m*float64(s.every)/float64(time.Hour)); i < n; i++ {
		t := at(r, from, s.every).Truncate(time.Second)
		key := fmt.Sprintf("orders/%s/%s.json", t.Format("2006/01/02"), uuid(r))
		if a.Kind == "security" {
			key = "payroll/exports/checksums.txt"
		}
		op, method := "REST.PUT.OBJECT", "PUT"
		if r.IntN(3) == 0 {
			op, method = "REST.GET.OBJECT", "GET"
		}
		ip := pick(r, []string{"52.", "54.", "44."}) + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(1+r.IntN(254))
		out = append(out, rec{t: t, b: s3Line(r, a.bucket, ownerID(a), t, ip, req, op, key, method, 200, 800+r.IntN(20000), sdkUAs[1])})
	}
	return out
}

// s3Exfil records a GetObject by u from ip in the bucket's access log.
func (g *gen) s3Exfil(r *rand.Rand, a *Account, ip string, u *actor, key string, t time.Time, scen string) {
	s := g.stream("s3access", a, "")
	t = t.Add(time.Duration(r.IntN(900)) * time.Millisecond).Truncate(time.Second)
	req := fmt.Sprintf("arn:aws:iam::%s:user/%s", a.ID, u.user)
	g.inject(s, t, s3Line(r, a.bucket, ownerID(a), t, ip, req, "REST.GET.OBJECT", key, "GET", 200, 4<<20+r.IntN(4<<20), u.ua), scen)
}

func s3Key(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every).Add(time.Duration(r.IntN(600)) * time.Second)
	return fmt.Sprintf("s3-access-logs/%s/%s-%s", s.acct.bucket, d.Format("2006-01-02-15-04-05"), randString(r, "0123456789ABCDEF", 16))
}
