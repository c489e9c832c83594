// Package all registers every log type ramen knows; import it for its side effect.
package all

import (
	_ "github.com/ramen-siem/ramen/parse/cloudfront"
	_ "github.com/ramen-siem/ramen/parse/cloudtrail"
	_ "github.com/ramen-siem/ramen/parse/elb"
	_ "github.com/ramen-siem/ramen/parse/guardduty"
	_ "github.com/ramen-siem/ramen/parse/route53"
	_ "github.com/ramen-siem/ramen/parse/s3access"
	_ "github.com/ramen-siem/ramen/parse/securityhub"
	_ "github.com/ramen-siem/ramen/parse/vpcflow"
	_ "github.com/ramen-siem/ramen/parse/waf"
)
