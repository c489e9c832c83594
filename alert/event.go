package alert

import (
	"encoding/json"

	"github.com/ramen-siem/ramen/event"
)

// Event turns the alert into an event of type "alerts", the form in which alerts are kept in the lake
// beside the events that caused them: the alert's JSON is the original, its id the event id, its
// first event's time the timestamp, and its parts ECS-style fields (rule.*, event.severity, ...).
func (a *Alert) Event() *event.Event {
	b, _ := json.Marshal(a)
	e := event.New("alerts", string(b), 20)
	e.ID = a.ID
	e.Timestamp = a.FirstSeen
	e.Add("event.kind", event.String("alert"))
	e.Add("event.severity", event.Int(int64(a.Severity.Rank())))
	e.Add("severity", event.String(string(a.Severity)))
	e.Add("rule.id", event.String(a.Rule.ID))
	e.Add("rule.name", event.String(a.Rule.Title))
	e.Add("rule.type", event.String(a.Rule.Kind))
	if len(a.Rule.Tags) > 0 {
		e.Add("tags", event.Strings(a.Rule.Tags...))
	}
	if a.LogType != "" {
		e.Add("alert.log_type", event.String(a.LogType))
	}
	e.Add("alert.count", event.Int(int64(a.Count)))
	e.Add("alert.first_seen", event.Time(a.FirstSeen))
	e.Add("alert.last_seen", event.Time(a.LastSeen))
	e.Add("alert.event_ids", event.Strings(a.EventIDs...))
	if g := a.GroupString(); g != "" {
		e.Add("alert.group", event.String(g))
	}
	if f := a.FieldsString(); f != "" {
		e.Add("alert.fields", event.String(f))
	}
	return e
}
