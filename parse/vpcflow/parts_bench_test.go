package vpcflow

import (
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/slab"
)

const benchLine = "2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 ACCEPT OK"

// BenchmarkBuild measures this package's share of the work for one default-format record: splitting,
// checking and mapping its fields into an event (without parse.Input.Emit and its id).
func BenchmarkBuild(b *testing.B) {
	l := headerlessLayout(14)
	line := []byte(benchLine)
	b.ReportAllocs()
	var sp [maxFields]span
	var sl slab.Slab // as for one object of b.N records
	for i := 0; i < b.N; i++ {
		s := string(line)
		n := bounds(s, sp[:])
		if _, _, err := build(&sl, s, sp[:n], l.cols, l.size, &parse.KeyInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewID measures the event id of the same record, which parse.Input.Emit computes.
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		event.NewID(Name, "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/01/02/111122223333_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240102T0005Z_1a2b3c4d.log.gz", int64(i), benchLine)
	}
}
