package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	c := &Counter{label: "parse", total: 1000_000_000}
	c.Add(250_000_000, 3, 1_500_000)
	got := c.line(10 * time.Second)
	for _, want := range []string{"parse", "3 objects", "1.5M events", "250.0 MB", "25.0 MB/s", "25%", "ETA 30s"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
}

func TestSilentWithoutWriter(t *testing.T) {
	c := Start(nil, "parse", 0)
	c.Add(1, 1, 1)
	c.Done() // must not block or draw
}

func TestDrawsAndClears(t *testing.T) {
	var b bytes.Buffer
	c := &Counter{w: &b, label: "x", start: time.Now()}
	c.draw()
	c.clear()
	if !strings.HasPrefix(b.String(), "\rx  0 objects") || !strings.HasSuffix(b.String(), "\r") {
		t.Errorf("got %q", b.String())
	}
}

func TestEnabledOffInCI(t *testing.T) {
	t.Setenv("CI", "true")
	if Enabled(nil) {
		t.Error("progress must be off in CI")
	}
}
