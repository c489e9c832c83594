// Package progress shows how a long operation is going: a one-line counter with rate and ETA,
// redrawn in place on a terminal, and nothing at all when the output is not a terminal (CI, pipes,
// files), so that logs and machine-readable output stay clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Enabled reports whether progress should be drawn on f: f is a terminal and CI is not set.
func Enabled(f *os.File) bool {
	if os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Counter tracks work done against an optional total (in bytes) and draws it periodically.
type Counter struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	total   int64 // bytes expected, 0 when unknown
	done    int64 // bytes done
	items   int64 // objects done
	events  int64
	start   time.Time
	stop    chan struct{}
	stopped chan struct{}
	width   int
}

// Start begins drawing to w every interval; w nil means draw nothing (Add still counts).
func Start(w io.Writer, label string, totalBytes int64) *Counter {
	c := &Counter{w: w, label: label, total: totalBytes, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if w == nil {
		close(c.stopped)
		return c
	}
	go func() {
		defer close(c.stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				c.clear()
				return
			case <-t.C:
				c.draw()
			}
		}
	}()
	return c
}

// Add records progress: bytes read, objects finished, events produced.
func (c *Counter) Add(bytes, objects, events int64) {
	c.mu.Lock()
	c.done += bytes
	c.items += objects
	c.events += events
	c.mu.Unlock()
}

// Done stops drawing and erases the line.
func (c *Counter) Done() {
	if c.w != nil {
		select {
		case <-c.stop:
		default:
			close(c.stop)
		}
	}
	<-c.stopped
}

func (c *Counter) draw() {
	c.mu.Lock()
	line := c.line(time.Since(c.start))
	c.mu.Unlock()
	pad := ""
	if n := c.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	c.width = len(line)
	fmt.Fprintf(c.w, "\r%s%s", line, pad)
}

func (c *Counter) clear() {
	if c.width > 0 {
		fmt.Fprintf(c.w, "\r%s\r", strings.Repeat(" ", c.width))
	}
}

// line renders the counter; it is separate from draw so that it can be tested.
func (c *Counter) line(elapsed time.Duration) string {
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	rate := float64(c.done) / secs
	s := fmt.Sprintf("%s  %d objects  %s events  %s  %s/s", c.label, c.items, Count(c.events), Bytes(c.done), Bytes(int64(rate)))
	if c.total > 0 {
		pct := 100 * float64(c.done) / float64(c.total)
		s += fmt.Sprintf("  %.0f%%", pct)
		if rate > 0 && c.done < c.total {
			eta := time.Duration(float64(c.total-c.done) / rate * float64(time.Second))
			s += "  ETA " + eta.Round(time.Second).String()
		}
	}
	return s
}

// Bytes formats a byte count for people: 1.5 MB.
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// Count formats a count for people: 1.2M.
func Count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
