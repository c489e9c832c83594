package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Truth is the ground truth of a generated tree: the organization, and for every attack scenario
// what happened, when, which records belong to it and which detections should fire. It is written
// beside the tree, at TruthPath(dir).
type Truth struct {
	Version   int         `json:"generator_version"`
	Seed      int64       `json:"seed"`
	Start     time.Time   `json:"start"`
	Days      int         `json:"days"`
	Accounts  int         `json:"accounts"`
	Rate      string      `json:"rate"`
	Org       *Org        `json:"organization"`
	Scenarios []*Scenario `json:"scenarios"`
}

// Scenario is one attack (or incident) woven into the data.
type Scenario struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Account     string    `json:"account"` // account id where it happens
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// Detections are the built-in rules that should fire on its records.
	Detections []Detection `json:"detections"`
	// Pending names the detectors ramen does not have yet that would catch what the rules cannot
	// (behaviour baselines, threat intelligence, source silence).
	Pending []string `json:"pending_detectors,omitempty"`
	// Counts is the number of its records per log type.
	Counts map[string]int `json:"records"`
	// Events are its records: the object (path under the tree) and the byte offset of each in the
	// decompressed object, which is what ramen puts in log.file.path and log.offset.
	Events []TruthEvent `json:"events"`
}

// Detection names a rule by its id and title.
type Detection struct {
	RuleID string `json:"rule_id"`
	Title  string `json:"title"`
}

// TruthEvent is one record of a scenario.
type TruthEvent struct {
	Scenario string    `json:"-"`
	Type     string    `json:"type"`
	Object   string    `json:"object"`
	Offset   int64     `json:"offset"`
	Time     time.Time `json:"time"`
}

func (t *Truth) scenario(id string) *Scenario {
	for _, s := range t.Scenarios {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (t *Truth) add(e TruthEvent) {
	if s := t.scenario(e.Scenario); s != nil {
		s.Events = append(s.Events, e)
	}
}

func (t *Truth) finish() {
	for _, s := range t.Scenarios {
		sort.SliceStable(s.Events, func(i, j int) bool {
			a, b := s.Events[i], s.Events[j]
			if !a.Time.Equal(b.Time) {
				return a.Time.Before(b.Time)
			}
			if a.Object != b.Object {
				return a.Object < b.Object
			}
			return a.Offset < b.Offset
		})
		s.Counts = map[string]int{}
		for i, e := range s.Events {
			s.Counts[e.Type]++
			if i == 0 || e.Time.Before(s.Start) {
				s.Start = e.Time
			}
			if e.Time.After(s.End) {
				s.End = e.Time
			}
		}
	}
}

// TruthPath is where the ground truth of a tree generated into dir is written: beside the tree, not
// in it, so that ingesting the tree reads only logs.
func TruthPath(dir string) string { return filepath.Clean(dir) + ".ground-truth.json" }

// ReadTruth reads a ground-truth file.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// Matches reports whether the truth is of data generated with cfg (by this version of the generator).
func (t *Truth) Matches(cfg Config) bool {
	if err := cfg.normalize(); err != nil {
		return false
	}
	return t.Version == Version && t.Seed == cfg.Seed && t.Days == cfg.Days && t.Accounts == cfg.Accounts && t.Rate == cfg.Rate && t.Start.Equal(cfg.Start)
}
