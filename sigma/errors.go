package sigma

import (
	"fmt"
	"strings"
)

// Error is a problem with one rule file, at a line when it is known. Compile returns one per bad rule
// (or per bad file when the file cannot be read as YAML) and goes on with the others.
type Error struct {
	File string // file name as given to Compile
	Line int    // 1-based line, 0 when unknown
	Rule string // rule title or id, when known
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is the list of errors of one Compile; it is an error itself when not empty.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// errAt builds an error at a node's line.
func errAt(file string, n *node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.line
		if n.kline > 0 {
			line = n.kline
		}
	}
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// elemLine returns the line of the element of a list with the given text, else the list's line.
func elemNode(list *node, text string) *node {
	if list != nil && list.kind == nodeSeq {
		for _, v := range list.vals {
			if v.text == text {
				return v
			}
		}
	}
	return list
}
