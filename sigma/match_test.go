package sigma

import (
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// ev builds a cloudtrail-type event over a JSON record, with optional ECS fields.
func ev(raw string, fields ...event.Field) *event.Event {
	e := event.New("cloudtrail", raw, len(fields))
	e.ID = "id-" + raw[:min(len(raw), 8)]
	e.Timestamp = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	e.Fields = append(e.Fields, fields...)
	return e
}

func compileOne(t *testing.T, detection string) *RuleSet {
	t.Helper()
	src := "title: t\nid: r1\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n" + indent(detection) + "\n"
	rs, errs := Compile([]File{{Name: "t.yml", Data: []byte(src)}}, nil)
	if len(errs) > 0 {
		t.Fatalf("compile %q: %v", detection, errs)
	}
	return rs
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func matches(rs *RuleSet, e *event.Event) bool { return len(rs.Match(e, nil)) > 0 }

type mcase struct {
	name      string
	detection string
	record    string
	want      bool
}

func runCases(t *testing.T, cases []mcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := compileOne(t, c.detection)
			if got := matches(rs, ev(c.record)); got != c.want {
				t.Errorf("detection\n%s\nrecord %s: match = %v, want %v", c.detection, c.record, got, c.want)
			}
		})
	}
}

func TestPlainAndWildcards(t *testing.T) {
	runCases(t, []mcase{
		{"equal, case-insensitive", "s:\n  eventName: createuser\ncondition: s", `{"eventName":"CreateUser"}`, true},
		{"equal is whole", "s:\n  eventName: Create\ncondition: s", `{"eventName":"CreateUser"}`, false},
		{"star", "s:\n  eventName: Cr*User\ncondition: s", `{"eventName":"CreateUser"}`, true},
		{"question mark", "s:\n  eventName: CreateUse?\ncondition: s", `{"eventName":"CreateUser"}`, true},
		{"question mark is one char", "s:\n  eventName: CreateUs?\ncondition: s", `{"eventName":"CreateUser"}`, false},
		{"escaped star is literal", `s:
  f: 'a\*b'
condition: s`, `{"f":"a*b"}`, true},
		{"escaped star not wildcard", `s:
  f: 'a\*b'
condition: s`, `{"f":"axxb"}`, false},
		{"backslash then wildcard", `s:
  f: 'C:\\*'
condition: s`, `{"f":"C:\\Windows"}`, true},
		{"three backslashes: backslash and literal star", `s:
  f: 'a\\\*'
condition: s`, `{"f":"a\\*"}`, true},
		{"three backslashes not wildcard", `s:
  f: 'a\\\*'
condition: s`, `{"f":"a\\bc"}`, false},
		{"four backslashes are two", `s:
  f: 'a\\\\b'
condition: s`, `{"f":"a\\\\b"}`, true},
		{"single backslash literal", `s:
  f: 'C:\Windows\System32'
condition: s`, `{"f":"c:\\windows\\system32"}`, true},
		{"escaped question mark", `s:
  f: 'what\?'
condition: s`, `{"f":"what?"}`, true},
		{"escaped question mark not wildcard", `s:
  f: 'what\?'
condition: s`, `{"f":"whatx"}`, false},
		{"list is or", "s:\n  eventName: [A, B]\ncondition: s", `{"eventName":"b"}`, true},
		{"map is and", "s:\n  eventName: A\n  eventSource: s\ncondition: s", `{"eventName":"a","eventSource":"x"}`, false},
		{"list of maps is or", "s:\n  - eventName: A\n  - eventSource: s\ncondition: s", `{"eventName":"z","eventSource":"S"}`, true},
		{"dotted path", "s:\n  userIdentity.type: Root\ncondition: s", `{"userIdentity":{"type":"Root"}}`, true},
		{"array path any element", "s:\n  resources.ARN: 'arn:b'\ncondition: s", `{"resources":[{"ARN":"arn:a"},{"ARN":"arn:b"}]}`, true},
		{"array of scalars any", "s:\n  tags: x\ncondition: s", `{"tags":["y","x"]}`, true},
		{"number equals number", "s:\n  n: 200\ncondition: s", `{"n":200}`, true},
		{"number equals float", "s:\n  n: 200\ncondition: s", `{"n":200.0}`, true},
		{"number vs string", "s:\n  n: 200\ncondition: s", `{"n":"200"}`, true},
		{"bool", "s:\n  b: true\ncondition: s", `{"b":true}`, true},
		{"bool false", "s:\n  b: false\ncondition: s", `{"b":true}`, false},
		{"empty string", "s:\n  f: ''\ncondition: s", `{"f":""}`, true},
		{"empty string not absent", "s:\n  f: ''\ncondition: s", `{}`, false},
		{"null is absent", "s:\n  f: null\ncondition: s", `{}`, true},
		{"null is null", "s:\n  f: null\ncondition: s", `{"f":null}`, true},
		{"null not present", "s:\n  f: null\ncondition: s", `{"f":"x"}`, false},
		{"not null", "s:\n  eventName: A\nf:\n  errorCode: null\ncondition: s and not f", `{"eventName":"A","errorCode":"AccessDenied"}`, true},
		{"absent field no match", "s:\n  missing: x\ncondition: s", `{"f":"x"}`, false},
		{"unicode case fold", "s:\n  f: ÄBC\ncondition: s", `{"f":"äbc"}`, true},
		{"contains on object is JSON text", "s:\n  requestParameters|contains: '\"bucketName\":\"x\"'\ncondition: s", `{"requestParameters":{"bucketName":"x","a":1}}`, true},
		{"contains object no html escape", "s:\n  o|contains: '<&>'\ncondition: s", `{"o":{"a":"<&>"}}`, true},
		{"startswith on object", "s:\n  o|startswith: '{\"a\":1'\ncondition: s", `{"o":{"a":1,"b":2}}`, true},
		{"key with dots", "s:\n  a.b: x\ncondition: s", `{"a.b":"x"}`, true},
	})
}

func TestModifiers(t *testing.T) {
	runCases(t, []mcase{
		{"contains", "s:\n  f|contains: ELL\ncondition: s", `{"f":"hello"}`, true},
		{"contains no", "s:\n  f|contains: xyz\ncondition: s", `{"f":"hello"}`, false},
		{"startswith", "s:\n  f|startswith: HE\ncondition: s", `{"f":"hello"}`, true},
		{"startswith no", "s:\n  f|startswith: el\ncondition: s", `{"f":"hello"}`, false},
		{"endswith", "s:\n  f|endswith: LO\ncondition: s", `{"f":"hello"}`, true},
		{"contains keeps inner wildcard", "s:\n  f|contains: h*o\ncondition: s", `{"f":"xhelloy"}`, true},
		{"contains all", "s:\n  f|contains|all: [a, b]\ncondition: s", `{"f":"xaxbx"}`, true},
		{"contains all missing one", "s:\n  f|contains|all: [a, z]\ncondition: s", `{"f":"xaxbx"}`, false},
		{"contains list is or", "s:\n  f|contains: [a, z]\ncondition: s", `{"f":"xaxbx"}`, true},
		{"all over array elements", "s:\n  f|all: [a, b]\ncondition: s", `{"f":["a","b"]}`, true},
		{"cased", "s:\n  f|cased: Hello\ncondition: s", `{"f":"hello"}`, false},
		{"cased yes", "s:\n  f|cased: Hello\ncondition: s", `{"f":"Hello"}`, true},
		{"cased contains", "s:\n  f|contains|cased: Ell\ncondition: s", `{"f":"hEllo"}`, true},
		{"re is a substring search", "s:\n  f|re: 'b.d'\ncondition: s", `{"f":"abcde"}`, true},
		{"re anchored", "s:\n  f|re: '^b.d$'\ncondition: s", `{"f":"abcde"}`, false},
		{"re case-sensitive", "s:\n  f|re: 'ABC'\ncondition: s", `{"f":"abc"}`, false},
		{"re i", "s:\n  f|re|i: 'ABC'\ncondition: s", `{"f":"abc"}`, true},
		{"re m", "s:\n  f|re|m: '^b$'\ncondition: s", `{"f":"a\nb\nc"}`, true},
		{"re without m", "s:\n  f|re: '^b$'\ncondition: s", `{"f":"a\nb\nc"}`, false},
		{"re s", "s:\n  f|re|s: 'a.b'\ncondition: s", `{"f":"a\nb"}`, true},
		{"re without s", "s:\n  f|re: 'a.b'\ncondition: s", `{"f":"a\nb"}`, false},
		{"base64", "s:\n  f|base64: 'hello'\ncondition: s", `{"f":"aGVsbG8="}`, true},
		{"base64 contains", "s:\n  f|base64|contains: 'hello'\ncondition: s", `{"f":"xxaGVsbG8=yy"}`, true},
		{"base64offset 0", "s:\n  f|base64offset|contains: 'hello'\ncondition: s", `{"f":"aGVsbG8gd29ybGQ="}`, true},     // "hello world"
		{"base64offset 1", "s:\n  f|base64offset|contains: 'hello'\ncondition: s", `{"f":"eGhlbGxvIHdvcmxk"}`, true},     // "xhello world"
		{"base64offset 2", "s:\n  f|base64offset|contains: 'hello'\ncondition: s", `{"f":"eHhoZWxsbyB3b3JsZA=="}`, true}, // "xxhello world"
		{"base64offset absent", "s:\n  f|base64offset|contains: 'hello'\ncondition: s", `{"f":"d29ybGQ="}`, false},
		{"wide base64offset", "s:\n  f|wide|base64offset|contains: 'ab'\ncondition: s", `{"f":"YQBiAA=="}`, true},
		{"windash slash", "s:\n  f|windash|contains: ' -exec'\ncondition: s", `{"f":"cmd /exec x"}`, true},
		{"windash en dash", "s:\n  f|windash|contains: ' -exec'\ncondition: s", `{"f":"cmd \u2013exec x"}`, true},
		{"windash em dash", "s:\n  f|windash|contains: ' -exec'\ncondition: s", `{"f":"cmd \u2014exec x"}`, true},
		{"windash horizontal bar", "s:\n  f|windash|contains: ' -exec'\ncondition: s", `{"f":"cmd \u2015exec x"}`, true},
		{"windash from slash", "s:\n  f|windash|contains: ' /exec'\ncondition: s", `{"f":"cmd -exec x"}`, true},
		{"windash no", "s:\n  f|windash|contains: ' -exec'\ncondition: s", `{"f":"cmd +exec x"}`, false},
		{"cidr v4", "s:\n  ip|cidr: 10.0.0.0/8\ncondition: s", `{"ip":"10.1.2.3"}`, true},
		{"cidr v4 no", "s:\n  ip|cidr: 10.0.0.0/8\ncondition: s", `{"ip":"11.1.2.3"}`, false},
		{"cidr v6", "s:\n  ip|cidr: '2001:db8::/32'\ncondition: s", `{"ip":"2001:db8::1"}`, true},
		{"cidr list", "s:\n  ip|cidr: [192.168.0.0/16, 10.0.0.0/8]\ncondition: s", `{"ip":"192.168.1.1"}`, true},
		{"cidr not an ip", "s:\n  ip|cidr: 10.0.0.0/8\ncondition: s", `{"ip":"AWS Internal"}`, false},
		{"exists true", "s:\n  f|exists: true\ncondition: s", `{"f":""}`, true},
		{"exists true absent", "s:\n  f|exists: true\ncondition: s", `{}`, false},
		{"exists false", "s:\n  f|exists: false\ncondition: s", `{}`, true},
		{"gt", "s:\n  n|gt: 5\ncondition: s", `{"n":6}`, true},
		{"gt equal", "s:\n  n|gt: 5\ncondition: s", `{"n":5}`, false},
		{"gte", "s:\n  n|gte: 5\ncondition: s", `{"n":5}`, true},
		{"lt string number", "s:\n  n|lt: 5\ncondition: s", `{"n":"4.5"}`, true},
		{"lte", "s:\n  n|lte: 5\ncondition: s", `{"n":6}`, false},
		{"gt not a number", "s:\n  n|gt: 5\ncondition: s", `{"n":"x"}`, false},
		{"neq", "s:\n  f|neq: a\ncondition: s", `{"f":"b"}`, true},
		{"neq same", "s:\n  f|neq: a\ncondition: s", `{"f":"A"}`, false},
		{"neq absent", "s:\n  f|neq: a\ncondition: s", `{}`, true},
		{"neq list", "s:\n  f|neq: [a, b]\ncondition: s", `{"f":"b"}`, false},
		{"fieldref", "s:\n  a|fieldref: b\ncondition: s", `{"a":"X","b":"x"}`, true},
		{"fieldref differs", "s:\n  a|fieldref: b\ncondition: s", `{"a":"X","b":"y"}`, false},
		{"fieldref absent", "s:\n  a|fieldref: b\ncondition: s", `{"a":"X"}`, false},
		{"fieldref null", "s:\n  a|fieldref: b\ncondition: s", `{"a":"X","b":null}`, false},
		{"fieldref neq", "s:\n  a|fieldref|neq: b\ncondition: s", `{"a":"X","b":"y"}`, true},
		{"fieldref contains", "s:\n  a|fieldref|contains: b\ncondition: s", `{"a":"user/bob","b":"bob"}`, true},
		{"hour", "s:\n  eventTime|hour: 7\ncondition: s", `{"eventTime":"2024-05-06T07:08:09Z"}`, true},
		{"hour gte", "s:\n  eventTime|hour|gte: 8\ncondition: s", `{"eventTime":"2024-05-06T07:08:09Z"}`, false},
		{"minute", "s:\n  eventTime|minute: 8\ncondition: s", `{"eventTime":"2024-05-06T07:08:09Z"}`, true},
		{"day month year", "s:\n  a|day: 6\n  a|month: 5\n  a|year: 2024\ncondition: s", `{"a":"2024-05-06T07:08:09Z"}`, true},
		{"week", "s:\n  a|week: 19\ncondition: s", `{"a":"2024-05-06T07:08:09Z"}`, true},
		{"utf16le", "s:\n  f|utf16le|contains: 'ab'\ncondition: s", `{"f":"xa\u0000b\u0000y"}`, true},
		{"utf16be", "s:\n  f|utf16be|contains: 'ab'\ncondition: s", `{"f":"x\u0000a\u0000by"}`, true},
		{"keywords", "k:\n  - hello\n  - zzz\ncondition: k", `{"f":"say HELLO"}`, true},
		{"keywords no", "k:\n  - nope\ncondition: k", `{"f":"say hello"}`, false},
		{"keywords all", "k:\n  '|all':\n    - say\n    - hello\ncondition: k", `{"f":"say hello"}`, true},
		{"keywords all no", "k:\n  '|all':\n    - say\n    - bye\ncondition: k", `{"f":"say hello"}`, false},
		{"keyword single", "k: hello\ncondition: k", `{"f":"say hello"}`, true},
	})
}

func TestExpand(t *testing.T) {
	src := `title: t
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    user|expand: '%Admins%'
    path|expand: '\%x%Admins%'
  condition: s
`
	cfg := &Config{Placeholders: map[string][]string{"Admins": {"alice", "bo*"}}}
	rs, errs := Compile([]File{{Name: "t.yml", Data: []byte(src)}}, cfg)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !matches(rs, ev(`{"user":"bob","path":"%xalice"}`)) || matches(rs, ev(`{"user":"carol","path":"%xalice"}`)) {
		t.Error("expand")
	}
	_, errs = Compile([]File{{Name: "t.yml", Data: []byte(src)}}, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "placeholder %Admins% has no values") {
		t.Errorf("missing placeholder: %v", errs)
	}
}

func TestConditions(t *testing.T) {
	base := "a:\n  f: a\nb:\n  g: b\nsel_1:\n  h: 1\nsel_2:\n  h: 2\n_hidden:\n  h: 3\n"
	rec := `{"f":"a","g":"x","h":2}`
	cases := []struct {
		cond string
		want bool
	}{
		{"a", true},
		{"b", false},
		{"a and b", false},
		{"a or b", true},
		{"not b", true},
		{"not a", false},
		{"a and not b", true},
		{"not a or b", false},
		{"not (a and b)", true},
		{"(a or b) and sel_2", true},
		{"a or b and sel_1", true},    // and binds tighter
		{"(a or b) and sel_1", false}, //
		{"not a and b", false},        // not binds tighter than and
		{"1 of sel_*", true},
		{"all of sel_*", false},
		{"1 of them", true},
		{"all of them", false},
		{"all of sel_* or a", true},
		{"not 1 of sel_*", false},
		{"1 of _hid*", false},
		{"A AND NOT B", false}, // identifiers are case-sensitive: A is not defined
	}
	for _, c := range cases {
		det := base + "condition: " + c.cond
		if c.cond == "A AND NOT B" {
			src := "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n" + indent(det) + "\n"
			if _, errs := Compile([]File{{Name: "t.yml", Data: []byte(src)}}, nil); len(errs) == 0 {
				t.Errorf("%q: want an error", c.cond)
			}
			continue
		}
		rs := compileOne(t, det)
		if got := matches(rs, ev(rec)); got != c.want {
			t.Errorf("%q: %v, want %v", c.cond, got, c.want)
		}
	}
	// them excludes _ identifiers: all of them holds without _hidden
	rs := compileOne(t, "a:\n  f: a\n_x:\n  f: zzz\ncondition: all of them")
	if !matches(rs, ev(rec)) {
		t.Error("all of them must skip _x")
	}
	// a condition list is or
	rs = compileOne(t, "a:\n  f: zz\nb:\n  g: x\ncondition:\n  - a\n  - b")
	if !matches(rs, ev(rec)) {
		t.Error("condition list")
	}
}

func TestConditionParse(t *testing.T) {
	good := map[string]string{
		"a and b or c":           "((a and b) or c)",
		"a or b and c":           "(a or (b and c))",
		"not a and b":            "(not a and b)",
		"not (a or b)":           "not (a or b)",
		"1 of sel* and not x":    "(1 of sel* and not x)",
		"all of them":            "all of them",
		"any of x*":              "1 of x*",
		"a and (b or (c and d))": "(a and (b or (c and d)))",
	}
	for in, want := range good {
		n, err := parseCondition(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if n.String() != want {
			t.Errorf("%q: %s, want %s", in, n, want)
		}
	}
	bad := map[string]string{
		"a and":                   "ends where",
		"(a or b":                 "missing ')'",
		"a b":                     "unexpected",
		"selection | count() > 5": "aggregations",
		"2 of sel*":               "not Sigma",
		"sel*":                    "needs 1 of",
		"":                        "empty",
		"a and or b":              "unexpected",
		"1 of":                    "needs a search identifier",
		"a near b":                "unexpected",
	}
	for in, want := range bad {
		_, err := parseCondition(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one with %q", in, err, want)
		}
	}
}

func TestSString(t *testing.T) {
	cases := map[string]string{
		`a*b`:    `a*b`,
		`a\*b`:   `a\*b`,
		`a\\*`:   `a\\*`,
		`C:\Win`: `C:\Win`,
		`a\\\*`:  `a\\\*`,
		`a\\\\b`: `a\\\b`, // a plain backslash before b needs no escape
		`**`:     `*`,
		`x\?`:    `x\?`,
	}
	for in, want := range cases {
		if got := parseSString(in).String(); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
	if parseSString(`a\\\\b`).plain() != `a\\b` || parseSString(`C:\Win`).plain() != `C:\Win` || parseSString(`a\\b`).plain() != `a\b` {
		t.Error("plain")
	}
}

func TestBase64Offset(t *testing.T) {
	// pySigma's reference output for "/bin/sh"
	got := base64Offsets([]byte("/bin/sh"))
	want := []string{"L2Jpbi9za", "9iaW4vc2", "vYmluL3No"}
	for i := range want {
		if got[i].plain() != want[i] {
			t.Errorf("offset %d: %q, want %q", i, got[i].plain(), want[i])
		}
	}
}

func TestWindashVariants(t *testing.T) {
	v := windash(plainSString("-a /b"))
	if len(v) != 25 {
		t.Fatalf("%d variants, want 25", len(v))
	}
	seen := map[string]bool{}
	for _, s := range v {
		seen[s.plain()] = true
	}
	for _, w := range []string{"-a /b", "/a -b", "\u2013a \u2014b", "\u2015a \u2015b"} {
		if !seen[w] {
			t.Errorf("missing variant %q", w)
		}
	}
}

func TestECSFirstThenNative(t *testing.T) {
	rs := compileOne(t, "s:\n  user.name: alice\n  eventName: X\ncondition: s")
	e := ev(`{"eventName":"X","user":{"name":"bob"}}`, event.Field{Key: "user.name", Value: event.String("alice")})
	if !matches(rs, e) {
		t.Error("ECS field must win over the native record")
	}
}

func TestRequiredLiterals(t *testing.T) {
	for src, want := range map[string]string{
		".+:assumed-role/aws:.+": ":assumed-role/aws:",
		"(?i)abc.*def":           "",
		"abc|def":                "",
		"^/admin/.*":             "/admin/",
	} {
		if got := strings.Join(requiredLiterals(src), ","); got != want {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
}
