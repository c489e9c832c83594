package gen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// Web traffic: every request to a load balancer passes its WAF web ACL, so the ALB and WAF logs of a
// window are rendered from one list of requests, drawn from a source both streams share.

type webReq struct {
	t                 time.Time
	ip, country       string
	port              int
	method, uri, args string
	ua                string
	status            int
	sent, recv        int
	target            *eni
	latency           float64
	// WAF's verdict: terminating rule, its type and the rule group's matched rule ("" when allowed)
	rule, ruleType, groupRule, group string
	matchDetails                     string
	scen                             string
}

type page struct {
	weight int
	method string
	uri    string
	args   func(r *rand.Rand) string
	status []int // drawn uniformly
	size   int
}

var pages = []page{
	{30, "GET", "/", nil, []int{200, 200, 200, 304}, 24000},
	{20, "GET", "/products", func(r *rand.Rand) string {
		return fmt.Sprintf("category=%s&page=%d", pick(r, []string{"shoes", "bags", "shirts", "sale"}), 1+r.IntN(5))
	}, []int{200, 200, 200, 200, 304}, 48000},
	{15, "GET", "/products/%d", nil, []int{200, 200, 200, 200, 404}, 31000},
	{10, "GET", "/api/v2/cart", nil, []int{200, 200, 200, 401}, 900},
	{6, "POST", "/api/v2/cart/items", nil, []int{201, 201, 201, 400}, 400},
	{4, "POST", "/api/v2/checkout", nil, []int{200, 200, 200, 402, 500}, 1200},
	{5, "POST", "/api/v2/login", nil, []int{200, 200, 200, 401}, 600},
	{8, "GET", "/search", func(r *rand.Rand) string {
		return "q=" + pick(r, []string{"running+shoes", "leather+bag", "gift+card", "summer+dress"})
	}, []int{200}, 36000},
	{4, "GET", "/healthz", nil, []int{200}, 2},
	{2, "GET", "/robots.txt", nil, []int{200}, 120},
}

var shopperUAs = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"ELB-HealthChecker/2.0",
}

var countries = []string{"US", "US", "US", "CA", "MX", "BR", "GB", "DE", "FR", "ES", "IN", "JP", "AU"}

var pageWeights = func() []int {
	var c []int
	s := 0
	for _, p := range pages {
		s += p.weight
		c = append(c, s)
	}
	return c
}()

// webRequests draws the benign requests of one window of a load balancer.
func (g *gen) webRequests(lb *alb, acct *Account, from time.Time, every time.Duration) []webReq {
	r := g.rng("web/"+lb.id, int(from.Sub(g.cfg.Start)/every))
	k := map[string]float64{"prod": 1, "dev": .08}[acct.Kind] * g.rate
	if lb.region != acct.Regions[0] {
		k *= .4
	}
	f := diurnal((from.Hour()+19)%24, from.Weekday())
	n := poisson(r, 110*k*f*float64(every)/float64(5*time.Minute))
	reqs := make([]webReq, 0, n)
	webs := lb.vpc.tier("web")
	for i := 0; i < n; i++ {
		x := r.IntN(pageWeights[len(pageWeights)-1])
		p := pages[0]
		for j, c := range pageWeights {
			if x < c {
				p = pages[j]
				break
			}
		}
		q := webReq{t: at(r, from, every), ip: publicIP(r), country: pick(r, countries), port: ephemeral(r), method: p.method,
			uri: p.uri, ua: pick(r, shopperUAs), status: pick(r, p.status), target: pick(r, webs), latency: .002 + r.ExpFloat64()*.04}
		if strings.Contains(q.uri, "%d") {
			q.uri = fmt.Sprintf(q.uri, 1000+r.IntN(9000))
		}
		if p.args != nil {
			q.args = p.args(r)
		}
		if q.uri == "/healthz" {
			q.ua = "ELB-HealthChecker/2.0"
		}
		q.sent = p.size/2 + r.IntN(p.size+1)
		q.recv = 300 + r.IntN(600)
		if q.method == "POST" {
			q.recv += 200 + r.IntN(2000)
		}
		// scanners knocking on paths that do not exist, blocked by the known-bad-inputs rules
		if r.IntN(900) == 0 {
			q.uri, q.ua, q.args = pick(r, []string{"/.env", "/wp-login.php", "/.git/config", "/actuator/env"}), "Mozilla/5.0 zgrab/0.x", ""
			q.rule, q.ruleType, q.group, q.groupRule = "AWS-AWSManagedRulesKnownBadInputsRuleSet", "MANAGED_RULE_GROUP", "AWS#AWSManagedRulesKnownBadInputsRuleSet", "ExploitablePaths_URIPATH"
		}
		reqs = append(reqs, q)
	}
	return reqs
}

// injectWeb adds attack requests to both the ALB and the WAF stream of a load balancer.
func (g *gen) injectWeb(a *Account, lb *alb, q webReq) {
	for _, typ := range []string{"elb", "waf"} {
		s := g.stream(typ, a, lb.region)
		var b []byte
		if typ == "elb" {
			b = albLine(a, lb, q, rand.New(rand.NewPCG(uint64(q.t.UnixNano()), 1)))
		} else {
			b = wafRecord(a, lb, q, rand.New(rand.NewPCG(uint64(q.t.UnixNano()), 2)))
		}
		g.inject(s, q.t, b, q.scen)
	}
}

func albLine(a *Account, lb *alb, q webReq, r *rand.Rand) []byte {
	t := q.t.UTC()
	created := t.Add(-time.Duration(q.latency*float64(time.Second)) - time.Millisecond)
	reqLine := fmt.Sprintf("%s https://%s:443%s", q.method, lb.host, q.uri)
	if q.args != "" {
		reqLine += "?" + q.args
	}
	reqLine += " HTTP/2.0"
	trace := fmt.Sprintf("Root=1-%08x-%s", t.Unix(), randString(r, hexDigits, 24))
	tg := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s-web/%s", lb.region, a.ID, lb.name, lb.tg)
	cert := fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", lb.region, a.ID, lb.aclID)
	target, tstatus, actions, times := q.target.ip+":8080", fmt.Sprint(q.status), "waf,forward", fmt.Sprintf("0.000 %.3f 0.000", q.latency)
	tgt, tgtList, tsList := tg, `"`+target+`"`, `"`+tstatus+`"`
	if q.rule != "" { // blocked by WAF: never reaches a target
		target, tstatus, actions, times, tgt, tgtList, tsList = "-", "-", "waf", "-1 -1 -1", "-", `"-"`, `"-"`
		q.status = 403
		q.sent = 214
	}
	return fmt.Appendf(nil, `h2 %s app/%s/%s %s:%d %s %s %d %s %d %d "%s" "%s" TLS_AES_128_GCM_SHA256 TLSv1.3 %s "%s" "%s" "%s" 1 %s "%s" "-" "-" %s %s "-" "-" TID_%s "-" "-" "-"`,
		t.Format("2006-01-02T15:04:05.000000Z"), lb.name, lb.id, q.ip, q.port, target, times, q.status, tstatus, q.recv, q.sent,
		reqLine, q.ua, tgt, trace, lb.host, cert, created.Format("2006-01-02T15:04:05.000000Z"), actions, tgtList, tsList, randString(r, hexDigits, 32))
}

func albKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every)
	lbIP := fmt.Sprintf("%s.1.%d", s.lb.vpc.prefix, 10+r.IntN(200))
	return fmt.Sprintf("AWSLogs/%s/elasticloadbalancing/%s/%s/%s_elasticloadbalancing_%s_app.%s.%s_%s_%s_%s.log.gz", s.acct.ID, s.region,
		d.Format("2006/01/02"), s.acct.ID, s.region, s.lb.name, s.lb.id, d.Format("20060102T1504Z"), lbIP, randString(r, lowerDigits, 8))
}

func albBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	for _, q := range g.webRequests(s.lb, s.acct, from, s.every) {
		out = append(out, rec{t: q.t, b: albLine(s.acct, s.lb, q, r)})
	}
	return out
}

func wafBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	for _, q := range g.webRequests(s.lb, s.acct, from, s.every) {
		out = append(out, rec{t: q.t, b: wafRecord(s.acct, s.lb, q, r)})
	}
	return out
}

func jsonStr(s string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%q", s) // the strings written here are ASCII without control characters
	return b.String()
}

func wafRecord(a *Account, lb *alb, q webReq, r *rand.Rand) []byte {
	action, term, termType := "ALLOW", "Default_Action", "REGULAR"
	groups := `[{"ruleGroupId":"AWS#AWSManagedRulesCommonRuleSet","terminatingRule":null,"nonTerminatingMatchingRules":[],"excludedRules":null,"customerConfig":null},` +
		`{"ruleGroupId":"AWS#AWSManagedRulesKnownBadInputsRuleSet","terminatingRule":null,"nonTerminatingMatchingRules":[],"excludedRules":null,"customerConfig":null},` +
		`{"ruleGroupId":"AWS#AWSManagedRulesSQLiRuleSet","terminatingRule":null,"nonTerminatingMatchingRules":[],"excludedRules":null,"customerConfig":null}]`
	details := "[]"
	if q.rule != "" {
		action, term, termType = "BLOCK", q.rule, q.ruleType
		groups = strings.Replace(groups, `{"ruleGroupId":"`+q.group+`","terminatingRule":null`,
			`{"ruleGroupId":"`+q.group+`","terminatingRule":{"ruleId":"`+q.groupRule+`","action":"BLOCK","ruleMatchDetails":null}`, 1)
		if q.matchDetails != "" {
			details = q.matchDetails
		}
	}
	status := "null"
	if action == "BLOCK" {
		status = "403"
	}
	return fmt.Appendf(nil, `{"timestamp":%d,"formatVersion":1,"webaclId":"arn:aws:wafv2:%s:%s:regional/webacl/%s/%s","terminatingRuleId":%q,"terminatingRuleType":%q,"action":%q,"terminatingRuleMatchDetails":%s,"httpSourceName":"ALB","httpSourceId":"%s-app/%s/%s","ruleGroupList":%s,"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":%s,"httpRequest":{"clientIp":%q,"country":%q,"headers":[{"name":"host","value":%q},{"name":"user-agent","value":%s},{"name":"accept","value":"*/*"},{"name":"accept-encoding","value":"gzip, deflate, br"}],"uri":%s,"args":%s,"httpVersion":"HTTP/2.0","httpMethod":%q,"requestId":"1-%08x-%s"},"labels":[{"name":"awswaf:clientip:geo:country:%s"}],"requestBodySize":0,"requestBodySizeInspectedByWAF":0,"ja3Fingerprint":"%s"}`,
		q.t.UnixMilli(), lb.region, a.ID, lb.acl, lb.aclID, term, termType, action, details, a.ID, lb.name, lb.id, groups, status,
		q.ip, q.country, lb.host, jsonStr(q.ua), jsonStr(q.uri), jsonStr(q.args), q.method, q.t.Unix(), randString(r, hexDigits, 24), q.country,
		randString(r, hexDigits, 32))
}

func wafKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	d := from.Add(s.every)
	return fmt.Sprintf("AWSLogs/%s/WAFLogs/%s/%s/%s/%s_waflogs_%s_%s_%s_%s.log.gz", s.acct.ID, s.region, s.lb.acl, d.Format("2006/01/02/15/04"),
		s.acct.ID, s.region, s.lb.acl, d.Format("20060102T1504Z"), randString(r, hexDigits, 8))
}

// CloudFront standard logs of the shop's static assets.

const cfHeader = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"

var assets = []struct{ path, ctype string }{
	{"/assets/app.7f3c2a.js", "application/javascript"}, {"/assets/vendor.91be0d.js", "application/javascript"},
	{"/assets/app.4d1e9b.css", "text/css"}, {"/img/hero-spring.webp", "image/webp"}, {"/img/logo.svg", "image/svg+xml"},
	{"/fonts/inter-var.woff2", "font/woff2"}, {"/img/products/%d.jpg", "image/jpeg"}, {"/favicon.ico", "image/x-icon"},
}

var edges = []string{"IAD89-C1", "IAD61-P3", "DFW56-P1", "SFO53-P2", "GRU3-C1", "LHR61-P2", "FRA56-P3", "CDG52-P1", "NRT57-P1", "BOM78-P1", "SYD62-P1"}

func cfBenign(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec {
	n := poisson(r, 800*g.rate*diurnal((from.Hour()+19)%24, from.Weekday()))
	var b []byte
	for i := 0; i < n; i++ {
		t := at(r, from, s.every).Truncate(time.Second)
		a := pick(r, assets)
		p := a.path
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, 1000+r.IntN(9000))
		}
		status, result := 200, pick(r, []string{"Hit", "Hit", "Hit", "Hit", "Miss", "RefreshHit"})
		if r.IntN(40) == 0 {
			status, result = 304, "Hit"
		}
		size := 2000 + r.IntN(180000)
		if status == 304 {
			size = 0
		}
		tt := .001 + r.ExpFloat64()*.01
		if result == "Miss" {
			tt += .05
		}
		b = fmt.Appendf(b[:0], "%s\t%s\t%s\t%d\t%s\tGET\t%s\t%s\t%d\thttps://shop.example.com/\t%s\t-\t-\t%s\t%s==\tstatic.shop.example.com\thttps\t%d\t%.3f\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t%s\tHTTP/2.0\t-\t-\t%d\t%.3f\t%s\t%s\t%d\t-\t-",
			t.Format("2006-01-02"), t.Format("15:04:05"), pick(r, edges), size+420, publicIP(r), s.acct.cfHost, p, status,
			strings.ReplaceAll(pick(r, shopperUAs[:5]), " ", "%20"), result, randString(r, alnum, 54), 60+r.IntN(400), tt, result, ephemeral(r), tt*.9, result, a.ctype, size)
		out = append(out, rec{t: t, b: append([]byte(nil), b...)})
	}
	return out
}

func cfKey(g *gen, s *stream, r *rand.Rand, from time.Time) string {
	return fmt.Sprintf("cloudfront/%s/%s.%s.%s.gz", s.acct.ID, s.acct.cfDist, from.Format("2006-01-02-15"), randString(r, hexDigits, 8))
}

func (g *gen) sqlInjection(r *rand.Rand) {
	a := g.org.byKind("prod")
	const id = "sql-injection"
	g.scenario(&Scenario{ID: id, Account: a.ID, Title: "SQL injection attempts against the shop, blocked by WAF",
		Description: "sqlmap from one address works through SQL injection payloads in the product page's id parameter: 60 requests " +
			"in about four minutes. The AWS managed SQLi rule group blocks all but a few benign-looking probes, which reach the " +
			"application and get 404s.",
		Detections: []Detection{ruleWAFSQLi, ruleWAFBurst}})
	lb := a.albs[0]
	ip := publicIP(r)
	t := g.day(.3).Add(16*time.Hour + 22*time.Minute + time.Duration(r.IntN(300))*time.Second)
	payloads := []string{"1' OR '1'='1", "1 AND 1=1", "1 UNION ALL SELECT NULL,NULL,NULL-- -", "1' AND SLEEP(5)-- -",
		"1); WAITFOR DELAY '0:0:5'--", "1 AND (SELECT 7361 FROM (SELECT(SLEEP(5)))a)", "-1' UNION SELECT username,password FROM users-- -",
		"1' AND extractvalue(1,concat(0x7e,version()))-- -"}
	for i := 0; i < 60; i++ {
		t = t.Add(time.Duration(2000+r.IntN(3000)) * time.Millisecond)
		q := webReq{t: t, ip: ip, country: "NL", port: ephemeral(r), method: "GET", uri: "/products", ua: "sqlmap/1.8.11#stable (https://sqlmap.org)",
			status: 404, sent: 512, recv: 420, target: lb.vpc.tier("web")[0], latency: .004, scen: id}
		if i%12 == 0 {
			q.args = fmt.Sprintf("id=%d", 1000+i) // probing for a stable page: allowed
			q.status = 200
		} else {
			q.args = "id=" + url.QueryEscape(payloads[i%len(payloads)])
			q.rule, q.ruleType, q.group, q.groupRule = "AWS-AWSManagedRulesSQLiRuleSet", "MANAGED_RULE_GROUP", "AWS#AWSManagedRulesSQLiRuleSet", "SQLi_QUERYARGUMENTS"
		}
		g.injectWeb(a, lb, q)
	}
}
