// Package alert defines Alert, the one shape every detector's findings take: Sigma rules and
// correlations, scheduled SQL rules and behaviour baselines alike. The JSON form is a contract
// (docs/alerts.md): field names are stable and new fields are only ever added.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity is how urgent an alert is, from informational to critical (Sigma's levels).
type Severity string

const (
	Informational Severity = "informational"
	Low           Severity = "low"
	Medium        Severity = "medium"
	High          Severity = "high"
	Critical      Severity = "critical"
)

// Rank orders severities: 0 for informational (or unknown) up to 4 for critical.
func (s Severity) Rank() int {
	switch s {
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return 0
}

// ParseSeverity reads a Sigma level; an empty or unknown level is medium, Sigma's usual default.
func ParseSeverity(level string) Severity {
	switch s := Severity(strings.ToLower(level)); s {
	case Informational, Low, Medium, High, Critical:
		return s
	}
	return Medium
}

// Rule identifies what raised an alert.
type Rule struct {
	ID          string   `json:"id"` // the rule's id (else its name, else file#title)
	Title       string   `json:"title"`
	Level       string   `json:"level,omitempty"` // the level as the rule states it
	Tags        []string `json:"tags,omitempty"`
	Author      string   `json:"author,omitempty"` // kept for attribution (Detection Rule License)
	Description string   `json:"description,omitempty"`
	References  []string `json:"references,omitempty"`
	File        string   `json:"file,omitempty"` // where the rule was loaded from
	// Kind is "sigma" for a Sigma rule, "correlation" for a Sigma correlation rule, or the name of
	// another detector ("sql", "baseline").
	Kind string `json:"kind"`
	// Correlation is the correlation type (event_count, temporal, ...), empty for other kinds.
	Correlation string `json:"correlation,omitempty"`
}

// Alert is one finding.
type Alert struct {
	// ID is stable: the same rule over the same events gives the same id, so re-running detection
	// over the same data does not duplicate alerts.
	ID       string   `json:"id"`
	Rule     Rule     `json:"rule"`
	Severity Severity `json:"severity"`
	// LogType is the ramen log type of the events (empty when they are of several types).
	LogType string `json:"log_type,omitempty"`
	// EventIDs are the ids of the events that make the alert, oldest first (at most MaxEventIDs).
	EventIDs []string `json:"event_ids"`
	// Group holds the group-by values of a correlation: field -> value.
	Group map[string]string `json:"group,omitempty"`
	// Fields holds the fields the rule tested and their values in the (last) event.
	Fields    map[string]string `json:"fields,omitempty"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	// Count is how many events make the alert (it may exceed len(EventIDs)).
	Count int `json:"count"`
	// Value is the correlation's measure when it has one: the count, distinct values, sum,
	// average or percentile that met the condition.
	Value *float64 `json:"value,omitempty"`
}

// MaxEventIDs bounds the event ids one alert lists.
const MaxEventIDs = 100

// NewID returns the stable id of an alert: a hash of the rule id, the group and the event ids.
func NewID(ruleID string, group map[string]string, eventIDs []string) string {
	h := sha256.New()
	h.Write([]byte(ruleID))
	h.Write([]byte{0})
	keys := make([]string, 0, len(group))
	for k := range group {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, group[k])
	}
	h.Write([]byte{0})
	for _, id := range eventIDs {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// GroupString renders the group as "k=v k=v" in key order ("" when there is none).
func (a *Alert) GroupString() string {
	return joinMap(a.Group)
}

// FieldsString renders the matched fields as "k=v k=v" in key order.
func (a *Alert) FieldsString() string {
	return joinMap(a.Fields)
}

func joinMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
	}
	return b.String()
}
