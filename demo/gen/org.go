package gen

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// The organization: its accounts, people, workloads and networks. It is built from the seed alone,
// before any log is written, so that every stream and every scenario agree on the same ids.

// Account is one AWS account of the organization.
type Account struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"` // prod, dev, security, log-archive
	Regions []string `json:"regions"`

	vpcs   []*vpc
	albs   []*alb
	roles  []*role
	cfDist string // CloudFront distribution id (prod accounts)
	cfHost string // its d....cloudfront.net name
	kmsKey string // the id of the key its workloads decrypt with
	bucket string // the account's data bucket (S3 server access logs are written for it)
}

// Human is an employee with an IAM user in some accounts.
type Human struct {
	User    string   `json:"user"`
	Country string   `json:"country"`
	Access  []string `json:"accounts"` // account names

	tz       *time.Location
	homeIP   string
	officeIP string
	ua       string
	cliUA    string
	keyID    string
	userID   string
}

type role struct {
	name      string
	id        string // AROA...
	kind      string // ci, lambda, instance, monitoring
	session   string
	keyPrefix string
}

type vpc struct {
	id      string
	region  string
	prefix  string // "10.12"
	flowLog string // fl-...
	enis    []*eni
	resolve string // the VPC resolver address (.2)
}

type eni struct {
	id       string
	ip       string
	tier     string // alb, web, app, db, nat, batch
	vpc      string
	instance string
	az       string
}

type alb struct {
	name, id, region string
	vpc              *vpc
	acl, aclID       string
	host             string
	tg               string
}

// Org is the generated organization.
type Org struct {
	ID       string     `json:"organization_id"`
	Accounts []*Account `json:"accounts"`
	Humans   []*Human   `json:"humans"`
	// MaintenanceWindows are the approved times for changes and bulk data work, for the baseline
	// detectors to come: activity outside them (the insider scenario) is the anomaly.
	MaintenanceWindows []MaintenanceWindow `json:"maintenance_windows"`
}

// MaintenanceWindow is a weekly approved window, in UTC.
type MaintenanceWindow struct {
	Accounts []string `json:"accounts"` // account names
	Weekday  string   `json:"weekday"`
	Start    string   `json:"start"` // HH:MM
	End      string   `json:"end"`
	Purpose  string   `json:"purpose"`
}

var people = []struct {
	user, country string
	offset        int // hours from UTC
}{
	{"alice.nguyen", "US", -5}, {"jonas.weber", "DE", 1}, {"priya.sharma", "IN", 5},
	{"tom.baker", "GB", 0}, {"camille.martin", "FR", 1}, {"diego.alvarez", "ES", 1},
	{"kenji.tanaka", "JP", 9}, {"sara.johnson", "US", -8}, {"lena.fischer", "DE", 1},
	{"omar.haddad", "AE", 4}, {"emma.wilson", "GB", 0}, {"lucas.silva", "PT", 0},
}

var browserUAs = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
}

var cliUAs = []string{
	"aws-cli/2.22.10 md/awscrt#0.23.4 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.ls",
	"aws-cli/2.22.10 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-49-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#ec2.describe-instances",
	"Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.76",
	"aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.196.0",
}

// newOrg builds the organization for cfg.
func newOrg(cfg Config) *Org {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6f7267))
	o := &Org{ID: "o-" + randString(r, lowerDigits, 10)}
	kinds := []string{"log-archive", "security", "prod", "dev"}
	for i := 0; i < cfg.Accounts; i++ {
		kind := kinds[min(i, 3)]
		name := kind
		if i >= 4 {
			kind = []string{"prod", "dev"}[i%2]
			name = fmt.Sprintf("%s-%d", kind, i/2)
		}
		a := &Account{ID: fmt.Sprintf("%012d", r.Int64N(9e11)+1e11), Name: name, Kind: kind, Regions: []string{"us-east-1"}}
		if kind == "prod" {
			a.Regions = []string{"us-east-1", "eu-west-1"}
		}
		for j, reg := range a.Regions {
			if kind == "log-archive" || kind == "security" {
				break
			}
			v := &vpc{id: "vpc-0" + randString(r, hexDigits, 16), region: reg, prefix: fmt.Sprintf("10.%d", 16*(i%16)+j),
				flowLog: "fl-0" + randString(r, hexDigits, 16)}
			v.resolve = v.prefix + ".0.2"
			tiers := map[string]int{"alb": 2, "web": 4, "app": 4, "db": 2, "nat": 1}
			if kind == "dev" {
				tiers = map[string]int{"alb": 1, "web": 2, "app": 2, "db": 1, "nat": 1, "batch": 2}
			}
			for t, sub := range []string{"alb", "web", "app", "db", "nat", "batch"} {
				for k := 0; k < tiers[sub]; k++ {
					e := &eni{id: "eni-0" + randString(r, hexDigits, 16), tier: sub, vpc: v.id,
						ip: fmt.Sprintf("%s.%d.%d", v.prefix, t+1, 10+r.IntN(200)), az: reg + string(rune('a'+k%3))}
					if sub != "alb" && sub != "nat" {
						e.instance = "i-0" + randString(r, hexDigits, 16)
					}
					v.enis = append(v.enis, e)
				}
			}
			a.vpcs = append(a.vpcs, v)
			if kind == "prod" || j == 0 {
				name := "shop-" + kind
				if kind == "dev" {
					name = "shop-staging"
				}
				a.albs = append(a.albs, &alb{name: name, id: randString(r, hexDigits, 16), region: reg, vpc: v,
					acl: name + "-acl", aclID: uuid(r), host: map[string]string{"prod": "shop.example.com", "dev": "staging.shop.example.com"}[kind],
					tg: randString(r, hexDigits, 16)})
			}
		}
		if kind == "prod" {
			a.cfDist = "E" + randString(r, upperDigits, 13)
			a.cfHost = "d" + randString(r, lowerDigits, 13) + ".cloudfront.net"
			a.bucket = fmt.Sprintf("acme-customer-data-%s", a.ID)
		}
		a.kmsKey = uuid(r)
		if kind == "security" {
			a.bucket = fmt.Sprintf("acme-hr-payroll-%s", a.ID)
		}
		for _, rn := range []struct{ name, kind string }{
			{"github-actions-deploy", "ci"}, {"order-processor", "lambda"}, {"web-instance-role", "instance"},
			{"datadog-integration", "monitoring"}, {"OrganizationAccountAccessRole", "admin"},
		} {
			if (kind == "log-archive" || kind == "security") && (rn.kind == "ci" || rn.kind == "instance" || rn.kind == "lambda") {
				continue
			}
			a.roles = append(a.roles, &role{name: rn.name, kind: rn.kind, id: "AROA" + randString(r, upperDigits, 17)})
		}
		o.Accounts = append(o.Accounts, a)
	}
	var names []string
	for _, a := range o.Accounts {
		names = append(names, a.Name)
	}
	o.MaintenanceWindows = []MaintenanceWindow{
		{Accounts: names, Weekday: "Saturday", Start: "22:00", End: "24:00", Purpose: "patching, IAM and network changes"},
		{Accounts: []string{"security"}, Weekday: "Tuesday", Start: "14:00", End: "16:00", Purpose: "payroll export review by HR"},
	}
	nh := min(len(people), 4+2*cfg.Accounts)
	for i := 0; i < nh; i++ {
		p := people[i]
		h := &Human{User: p.user, Country: p.country, tz: time.FixedZone(p.country, p.offset*3600),
			homeIP: publicIP(r), officeIP: publicIP(r), ua: browserUAs[r.IntN(len(browserUAs))],
			cliUA: cliUAs[r.IntN(len(cliUAs))], keyID: "AKIA" + randString(r, upperDigits, 16),
			userID: "AIDA" + randString(r, upperDigits, 17)}
		for _, a := range o.Accounts {
			switch {
			case a.Kind == "security" && i%3 == 0, a.Kind == "prod" && i%2 == 0, a.Kind == "dev", a.Kind == "log-archive" && i == 0:
				h.Access = append(h.Access, a.Name)
			}
		}
		o.Humans = append(o.Humans, h)
	}
	return o
}

func (o *Org) byKind(kind string) *Account {
	for _, a := range o.Accounts {
		if a.Kind == kind {
			return a
		}
	}
	return nil
}

func (o *Org) humansOf(a *Account) []*Human {
	var hs []*Human
	for _, h := range o.Humans {
		for _, n := range h.Access {
			if n == a.Name {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

func (a *Account) role(kind string) *role {
	for _, r := range a.roles {
		if r.kind == kind {
			return r
		}
	}
	return nil
}

func (v *vpc) tier(t string) []*eni {
	var es []*eni
	for _, e := range v.enis {
		if e.tier == t {
			es = append(es, e)
		}
	}
	return es
}

const (
	hexDigits   = "0123456789abcdef"
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func uuid(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// publicIP returns a random unicast address outside private, shared, loopback, link-local,
// documentation, multicast and reserved ranges, so that every rule treats it as the internet.
func publicIP(r *rand.Rand) string {
	for {
		a := 1 + r.IntN(223)
		b := r.IntN(256)
		switch {
		case a == 10, a == 127, a == 0, a == 100 && b >= 64 && b < 128, a == 169 && b == 254,
			a == 172 && b >= 16 && b < 32, a == 192 && b == 168, a == 192 && b == 0, a == 198 && (b == 18 || b == 19 || b == 51),
			a == 203 && b == 0:
			continue
		}
		return fmt.Sprintf("%d.%d.%d.%d", a, b, r.IntN(256), 1+r.IntN(254))
	}
}
