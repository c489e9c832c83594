package gen

import (
	"fmt"
	"time"
)

// addStreams lays out every log source of the organization.
func (g *gen) addStreams() {
	defer g.addFindingStreams()
	for _, a := range g.org.Accounts {
		for _, reg := range a.Regions {
			g.streams = append(g.streams, &stream{id: fmt.Sprintf("cloudtrail/%s/%s", a.ID, reg), typ: "cloudtrail", acct: a, region: reg,
				every: 15 * time.Minute, benign: ctBenign, key: ctKey, frame: ctFrame})
		}
		for _, v := range a.vpcs {
			g.streams = append(g.streams, &stream{id: "vpcflow/" + v.id, typ: "vpcflow", acct: a, region: v.region, v: v,
				every: 10 * time.Minute, benign: vpcBenign, key: vpcKey, frame: lines(flowHeader)})
			g.streams = append(g.streams, &stream{id: "route53/" + v.id, typ: "route53", acct: a, region: v.region, v: v,
				every: 10 * time.Minute, benign: r53Benign, key: r53Key, frame: lines("")})
		}
		for _, lb := range a.albs {
			g.streams = append(g.streams, &stream{id: "elb/" + lb.id, typ: "elb", acct: a, region: lb.region, lb: lb,
				every: 5 * time.Minute, benign: albBenign, key: albKey, frame: lines("")})
			g.streams = append(g.streams, &stream{id: "waf/" + lb.id, typ: "waf", acct: a, region: lb.region, lb: lb,
				every: 5 * time.Minute, benign: wafBenign, key: wafKey, frame: lines("")})
		}
		if a.cfDist != "" {
			g.streams = append(g.streams, &stream{id: "cloudfront/" + a.cfDist, typ: "cloudfront", acct: a, region: "us-east-1",
				every: time.Hour, benign: cfBenign, key: cfKey, frame: lines(cfHeader)})
		}
	}
}

func (g *gen) addFindingStreams() {
	sec := g.org.byKind("security")
	g.streams = append(g.streams, &stream{id: "guardduty/" + sec.ID, typ: "guardduty", acct: sec, region: sec.Regions[0],
		every: time.Hour, benign: gdBenign, key: gdKey, frame: lines("")})
	for _, a := range g.org.Accounts {
		if a.bucket != "" {
			g.streams = append(g.streams, &stream{id: "s3access/" + a.bucket, typ: "s3access", acct: a, region: a.Regions[0],
				every: time.Hour, benign: s3Benign, key: s3Key, frame: lines("")})
		}
	}
}
