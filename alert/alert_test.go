package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSONFieldNames(t *testing.T) {
	v := 3.0
	a := Alert{ID: "x", Rule: Rule{ID: "r", Title: "T", Kind: "sigma"}, Severity: High, EventIDs: []string{"e1"},
		Group: map[string]string{"user": "bob"}, FirstSeen: time.Unix(0, 0).UTC(), LastSeen: time.Unix(1, 0).UTC(), Count: 1, Value: &v}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"id":"x"`, `"rule":{"id":"r","title":"T","kind":"sigma"}`, `"severity":"high"`, `"event_ids":["e1"]`,
		`"group":{"user":"bob"}`, `"first_seen":"1970-01-01T00:00:00Z"`, `"last_seen":"1970-01-01T00:00:01Z"`, `"count":1`, `"value":3`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}

func TestSeverity(t *testing.T) {
	if ParseSeverity("HIGH") != High || ParseSeverity("") != Medium || Critical.Rank() != 4 || Informational.Rank() != 0 {
		t.Error("severity")
	}
	if NewID("r", map[string]string{"a": "1"}, []string{"e"}) == NewID("r", map[string]string{"a": "2"}, []string{"e"}) {
		t.Error("group not in id")
	}
	a := Alert{Group: map[string]string{"b": "2", "a": "1"}}
	if a.GroupString() != "a=1 b=2" {
		t.Error(a.GroupString())
	}
}
