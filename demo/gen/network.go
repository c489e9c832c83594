package gen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

const flowHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"

// flow renders one default-format (version 2) flow log record.
func flow(acct string, e *eni, src, dst string, sport, dport, proto, packets, bytes int, start time.Time, secs int, action string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, "2 "...)
	b = append(b, acct...)
	b = append(b, ' ')
	b = append(b, e.id...)
	b = append(b, ' ')
	b = append(b, src...)
	b = append(b, ' ')
	b = append(b, dst...)
	for _, n := range []int{sport, dport, proto, packets, bytes} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, start.Unix(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, start.Unix()+int64(secs), 10)
	b = append(b, ' ')
	b = append(b, action...)
	b = append(b, " OK"...)
	return b
}

func ephemeral(r *rand.Rand) int { return 32768 + r.IntN(28232) }

// vpcBenign: web traffic through the tiers, egress through the NAT gateway, DNS, and the odd probe
// from the internet that the security groups reject.
func vpcBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	v, acct := s.v, s.acct.ID
	k := map[string]float64{"prod": 1, "dev": .3}[s.acct.Kind] * g.rate
	if s.region != s.acct.Regions[0] {
		k *= .5
	}
	f := diurnal((from.Hour()+19)%24, from.Weekday()) // customers mostly in the Americas
	albs, webs, apps, dbs, nat := v.tier("alb"), v.tier("web"), v.tier("app"), v.tier("db"), v.tier("nat")
	n := poisson(r, 40*k*f)
	for i := 0; i < n; i++ {
		t := at(r, from, s.every-time.Minute)
		client, lb, w, ap := publicIP(r), pick(r, albs), pick(r, webs), pick(r, apps)
		cp, pk := ephemeral(r), 8+r.IntN(40)
		by := pk * (300 + r.IntN(900))
		out = append(out,
			rec{t: t, b: flow(acct, lb, client, lb.ip, cp, 443, 6, pk, by/4, t, 1+r.IntN(50), "ACCEPT")},
			rec{t: t, b: flow(acct, lb, lb.ip, client, 443, cp, 6, pk, by, t, 1+r.IntN(50), "ACCEPT")},
			rec{t: t, b: flow(acct, w, lb.ip, w.ip, ephemeral(r), 8080, 6, pk, by/3, t, 1+r.IntN(50), "ACCEPT")})
		if r.IntN(2) == 0 {
			out = append(out, rec{t: t, b: flow(acct, ap, w.ip, ap.ip, ephemeral(r), 8443, 6, pk/2+1, by/5, t, 1+r.IntN(30), "ACCEPT")})
		}
		if r.IntN(3) == 0 && len(dbs) > 0 {
			d := pick(r, dbs)
			out = append(out, rec{t: t, b: flow(acct, d, ap.ip, d.ip, ephemeral(r), 5432, 6, pk, by/2, t, 1+r.IntN(20), "ACCEPT")})
		}
	}
	// egress: package mirrors, payment API, telemetry through the NAT gateway
	for i, m := 0, poisson(r, 25*k); i < m; i++ {
		t := at(r, from, s.every-time.Minute)
		src := pick(r, append(webs, apps...))
		dst := pick(r, egressIPs)
		pk := 5 + r.IntN(60)
		out = append(out,
			rec{t: t, b: flow(acct, src, src.ip, dst, ephemeral(r), 443, 6, pk, pk*180, t, 2+r.IntN(40), "ACCEPT")},
			rec{t: t, b: flow(acct, nat[0], src.ip, dst, ephemeral(r), 443, 6, pk, pk*180, t, 2+r.IntN(40), "ACCEPT")})
	}
	for i, m := 0, poisson(r, 20*k); i < m; i++ {
		t := at(r, from, s.every-time.Minute)
		src := pick(r, v.enis[len(albs):])
		out = append(out, rec{t: t, b: flow(acct, src, src.ip, v.resolve, ephemeral(r), 53, 17, 2, 150+r.IntN(60), t, 1, "ACCEPT")})
	}
	// background radiation: now and then someone knocks on SSH or RDP and is turned away
	if r.Float64() < float64(s.every)/float64(24*time.Hour)*1.5 {
		t := at(r, from, s.every-time.Minute)
		lb := pick(r, albs)
		out = append(out, rec{t: t, b: flow(acct, lb, publicIP(r), lb.ip, ephemeral(r), pick(r, []int{22, 3389, 23}), 6, 1, 44, t, 0, "REJECT")})
	}
	return out
}

// egressIPs are the public services the workloads call.
var egressIPs = []string{"151.101.0.223", "140.82.112.3", "104.16.132.229", "52.94.236.248", "34.120.177.193", "13.107.42.14", "185.199.108.153"}

func vpcKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every)
	return fmt.Sprintf("AWSLogs/%s/vpcflowlogs/%s/%s/%s_vpcflowlogs_%s_%s_%s_%s.log.gz", s.acct.ID, s.region, d.Format("2006/01/02"),
		s.acct.ID, s.region, s.v.flowLog, d.Format("20060102T1504Z"), randString(r, hexDigits, 8))
}

// Route 53 Resolver query logs.

var dnsNames = []struct{ name, typ, answer string }{
	{"sqs.%s.amazonaws.com.", "A", "3.227.250.%d"},
	{"dynamodb.%s.amazonaws.com.", "A", "3.218.182.%d"},
	{"secretsmanager.%s.amazonaws.com.", "A", "52.46.145.%d"},
	{"api.stripe.com.", "A", "54.187.174.%d"},
	{"orders-db.cluster-c9xk2example.%s.rds.amazonaws.com.", "CNAME", ""},
	{"registry.npmjs.org.", "A", "104.16.%d.34"},
	{"github.com.", "A", "140.82.112.%d"},
	{"intake.datadoghq.com.", "A", "3.233.146.%d"},
	{"ssm.%s.amazonaws.com.", "A", "52.94.226.%d"},
	{"logs.%s.amazonaws.com.", "A", "52.46.154.%d"},
}

func dnsQuery(s *stream, src *eni, t time.Time, name, qtype, rcode, answers string) []byte {
	return fmt.Appendf(nil, `{"version":"1.100000","account_id":%q,"region":%q,"vpc_id":%q,"query_timestamp":%q,"query_name":%q,"query_type":%q,"query_class":"IN","rcode":%q,"answers":%s,"srcaddr":%q,"srcport":"%d","transport":"UDP","srcids":{"instance":%q}}`,
		s.acct.ID, s.region, s.v.id, ts(t), name, qtype, rcode, answers, src.ip, 1024+int(t.UnixNano()%60000), src.instance)
}

func r53Benign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	k := map[string]float64{"prod": 1, "dev": .35}[s.acct.Kind] * g.rate
	var hosts []*eni
	for _, e := range s.v.enis {
		if e.instance != "" {
			hosts = append(hosts, e)
		}
	}
	for i, m := 0, poisson(r, 30*k*(.5+diurnal(from.Hour(), from.Weekday())/2)); i < m; i++ {
		t := at(r, from, s.every)
		d := pick(r, dnsNames)
		name := d.name
		if len(name) > 2 && contains(name, "%s") {
			name = fmt.Sprintf(name, s.region)
		}
		ans := "[]"
		rcode := "NOERROR"
		switch {
		case d.typ == "CNAME":
			ans = fmt.Sprintf(`[{"Rdata":"ip-%s.%s.compute.internal.","Type":"CNAME","Class":"IN"}]`, s.v.prefix, s.region)
		case r.IntN(50) == 0:
			rcode = "NXDOMAIN"
		default:
			ans = fmt.Sprintf(`[{"Rdata":%q,"Type":"A","Class":"IN"}]`, fmt.Sprintf(d.answer, 1+r.IntN(250)))
		}
		out = append(out, rec{t: t, b: dnsQuery(s, pick(r, hosts), t, name, d.typ, rcode, ans)})
	}
	return out
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func r53Key(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every)
	return fmt.Sprintf("AWSLogs/%s/vpcdnsquerylogs/%s/%s/%s_vpcdnsquerylogs_%s_%s_%s.log.gz", s.acct.ID, s.v.id, d.Format("2006/01/02"),
		s.acct.ID, s.v.id, d.Format("20060102T1504Z"), randString(r, hexDigits, 8))
}
