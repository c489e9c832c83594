package sigma

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The snapshot is JSON (a format written for ramen's own use, documented in docs/rules.md):
//
//	{"version":1,"now":<unix ns>,"groups":[{"correlation":"<key>","values":[...],"opened":<ns>,
//	  "entries":[{"t":<ns>,"s":<source>,"ids":[...],"v":"...","n":1.5,"hn":true,"c":3}],
//	  "starts":[...],"start_ids":[[...]]}, ...]}
//
// Groups are listed least recently updated first, so eviction order survives a restart.
const snapshotVersion = 1

type snapshot struct {
	Version int         `json:"version"`
	Now     int64       `json:"now"`
	Groups  []snapGroup `json:"groups"`
}

type snapGroup struct {
	Correlation string     `json:"correlation"`
	Values      []string   `json:"values,omitempty"`
	Opened      int64      `json:"opened"`
	Entries     []entry    `json:"entries,omitempty"`
	Starts      []int64    `json:"starts,omitempty"`
	StartIDs    [][]string `json:"start_ids,omitempty"`
}

// Snapshot writes every open window, so that a restarted process can Restore them and lose none.
func (c *Correlator) Snapshot(w io.Writer) error {
	s := snapshot{Version: snapshotVersion, Now: c.now}
	for el := c.lru.Front(); el != nil; el = el.Next() {
		g := el.Value.(*group)
		s.Groups = append(s.Groups, snapGroup{Correlation: g.c.key, Values: g.values, Opened: g.opened,
			Entries: g.entries, Starts: g.starts, StartIDs: g.startIDs})
	}
	enc := json.NewEncoder(w)
	return enc.Encode(&s)
}

// Restore replaces the correlator's state with a snapshot. Groups of correlations that are no
// longer loaded (or changed shape) are discarded and counted in Stats.Discarded.
func (c *Correlator) Restore(r io.Reader) error {
	var s snapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("correlation snapshot: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("correlation snapshot: version %d, this build reads %d", s.Version, snapshotVersion)
	}
	byKey := map[string]*Correlation{}
	for _, corr := range c.rs.corrs {
		byKey[corr.key] = corr
	}
	c.groups = map[string]*group{}
	c.lru.Init()
	c.now = s.Now
	c.stats.Restored, c.stats.Discarded = 0, 0
	for _, sg := range s.Groups {
		corr := byKey[sg.Correlation]
		if corr == nil || len(sg.Values) != len(corr.GroupBy) {
			c.stats.Discarded++
			continue
		}
		key := strconv.Itoa(corr.pos) + "\x00" + strings.Join(sg.Values, "\x00")
		g := newGroup(corr, key, sg.Values)
		g.opened = sg.Opened
		ok := true
		for _, en := range sg.Entries {
			if en.Src < 0 || en.Src >= len(corr.sources) {
				ok = false
				break
			}
			if corr.Type == "temporal_ordered" {
				g.entries = append(g.entries, en)
			} else {
				g.add(en)
			}
		}
		if corr.Type == "temporal_ordered" {
			if len(sg.Starts) != len(corr.sources) || len(sg.StartIDs) != len(corr.sources) {
				ok = false
			} else {
				copy(g.starts, sg.Starts)
				copy(g.startIDs, sg.StartIDs)
			}
		}
		if !ok {
			c.stats.Discarded++
			continue
		}
		if len(c.groups) >= c.lim.MaxGroups {
			old := c.lru.Front().Value.(*group)
			c.remove(old)
			c.stats.EvictedGroups++
		}
		g.elem = c.lru.PushBack(g)
		c.groups[key] = g
		c.stats.Restored++
	}
	return nil
}
