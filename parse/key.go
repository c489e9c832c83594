package parse

import (
	"path"
	"regexp"
	"strings"
	"time"
)

// KeyInfo is what an object's name says about it when AWS delivered it:
// [prefix/]AWSLogs/[<org-id>/]<account>/<service>/<region>/yyyy/mm/dd/<file>.
type KeyInfo struct {
	Account string    // 12-digit account id
	Org     string    // organization id of an organization trail (o-...)
	Service string    // "CloudTrail", "vpcflowlogs", "elasticloadbalancing", ...
	Region  string    // us-east-1, ...; empty when the segment is not a region (vpcdnsquerylogs has a VPC id)
	Date    time.Time // the yyyy/mm/dd of the key, UTC; zero when absent
	File    string    // the last path segment
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$`)
)

// ParseKey reads the AWSLogs layout from an object name (an S3 key, an s3:// URL or a local path that
// keeps the layout). Names without it give a KeyInfo with only File set.
func ParseKey(name string) KeyInfo {
	name = strings.ReplaceAll(name, "\\", "/")
	k := KeyInfo{File: path.Base(name)}
	i := strings.Index(name, "AWSLogs/")
	if i < 0 || (i > 0 && name[i-1] != '/') {
		return k
	}
	segs := strings.Split(name[i+len("AWSLogs/"):], "/")
	if len(segs) > 0 && strings.HasPrefix(segs[0], "o-") {
		k.Org, segs = segs[0], segs[1:]
	}
	if len(segs) < 2 || !accountRE.MatchString(segs[0]) {
		return k
	}
	k.Account, k.Service = segs[0], segs[1]
	segs = segs[2:]
	if len(segs) > 0 && regionRE.MatchString(segs[0]) {
		k.Region = segs[0]
	}
	// The date is the first yyyy/mm/dd run among the remaining segments (WAF puts the web ACL name
	// before it, Route 53 Resolver a VPC id).
	for j := 0; j+2 < len(segs)-1; j++ {
		if len(segs[j]) == 4 && len(segs[j+1]) == 2 && len(segs[j+2]) == 2 {
			if t, err := time.Parse("2006/01/02", segs[j]+"/"+segs[j+1]+"/"+segs[j+2]); err == nil {
				k.Date = t
				break
			}
		}
	}
	return k
}
