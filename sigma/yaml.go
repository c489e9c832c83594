package sigma

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// nodeKind is the shape of a YAML node once anchors, aliases and tags are resolved.
type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeString
	nodeInt
	nodeFloat
	nodeBool
	nodeMap
	nodeSeq
)

var nodeKindNames = [...]string{"null", "string", "integer", "number", "boolean", "map", "list"}

func (k nodeKind) String() string { return nodeKindNames[k] }

// node is a YAML value with its position, independent of the YAML library. Maps keep their key order.
type node struct {
	kind  nodeKind
	line  int
	kline int // for a map or list that is a map value: the line of its key
	col   int
	text  string  // scalars: the text as written (without quotes), "" for null
	num   float64 // nodeInt, nodeFloat
	b     bool    // nodeBool
	keys  []*node // nodeMap: keys (string nodes)
	vals  []*node // nodeMap: values; nodeSeq: elements
}

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k.text == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) isScalar() bool { return n.kind != nodeMap && n.kind != nodeSeq }

// parseYAML parses a file of one or more YAML documents. Errors carry the file name and line.
func parseYAML(file string, data []byte) ([]*node, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	var docs []*node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		c := converter{file: file, anchors: map[string]*node{}}
		n, err := c.convert(d.Body, 0)
		if err != nil {
			return nil, err
		}
		if n.kind == nodeNull {
			continue // an empty document ("---" at the end)
		}
		docs = append(docs, n)
	}
	return docs, nil
}

// yamlError turns a YAML library error into an *Error with the line, keeping its first line of text.
func yamlError(file string, err error) error {
	line := 0
	msg := err.Error()
	var se yaml.Error
	if errors.As(err, &se) && se.GetToken() != nil {
		line = se.GetToken().Position.Line
		msg = se.GetMessage()
	}
	if strings.Contains(msg, "already defined") {
		msg = "duplicate key: " + msg
	} else if strings.HasPrefix(msg, "[") {
		// "[2:1] mapping key ..." without the source excerpt
		if i := strings.Index(msg, "]"); i > 0 {
			pos := msg[1:i]
			if j := strings.Index(pos, ":"); j > 0 {
				line, _ = strconv.Atoi(pos[:j])
			}
			msg = strings.TrimSpace(msg[i+1:])
		}
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
	}
	if strings.Contains(msg, "already defined") && !strings.HasPrefix(msg, "duplicate key") {
		msg = "duplicate key: " + msg
	}
	return &Error{File: file, Line: line, Msg: "YAML: " + msg}
}

type converter struct {
	file    string
	anchors map[string]*node
}

const maxDepth = 64

func (c *converter) errf(n ast.Node, format string, args ...any) error {
	line := 0
	if t := n.GetToken(); t != nil {
		line = t.Position.Line
	}
	return &Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(n ast.Node, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, c.errf(n, "YAML nested too deeply")
	}
	pos := func() (int, int) {
		if t := n.GetToken(); t != nil {
			return t.Position.Line, t.Position.Column
		}
		return 0, 0
	}
	line, col := pos()
	switch v := n.(type) {
	case *ast.NullNode:
		return &node{kind: nodeNull, line: line, col: col}, nil
	case *ast.StringNode:
		return &node{kind: nodeString, line: line, col: col, text: v.Value}, nil
	case *ast.LiteralNode:
		return &node{kind: nodeString, line: line, col: col, text: v.Value.Value}, nil
	case *ast.IntegerNode:
		f := 0.0
		switch x := v.Value.(type) {
		case int64:
			f = float64(x)
		case uint64:
			f = float64(x)
		}
		return &node{kind: nodeInt, line: line, col: col, text: v.Token.Value, num: f}, nil
	case *ast.FloatNode:
		return &node{kind: nodeFloat, line: line, col: col, text: v.Token.Value, num: v.Value}, nil
	case *ast.InfinityNode:
		return &node{kind: nodeFloat, line: line, col: col, text: v.Token.Value, num: v.Value}, nil
	case *ast.NanNode:
		return &node{kind: nodeString, line: line, col: col, text: v.Token.Value}, nil
	case *ast.BoolNode:
		return &node{kind: nodeBool, line: line, col: col, text: v.Token.Value, b: v.Value}, nil
	case *ast.TagNode:
		inner, err := c.convert(v.Value, depth+1)
		if err != nil {
			return nil, err
		}
		switch v.Start.Value {
		case "!!str":
			if inner.isScalar() {
				inner.kind = nodeString
			}
		}
		return inner, nil
	case *ast.AnchorNode:
		inner, err := c.convert(v.Value, depth+1)
		if err != nil {
			return nil, err
		}
		c.anchors[v.Name.String()] = inner
		return inner, nil
	case *ast.AliasNode:
		a, ok := c.anchors[v.Value.String()]
		if !ok {
			return nil, c.errf(n, "YAML: unknown alias *%s", v.Value.String())
		}
		return a, nil
	case *ast.MappingNode:
		out := &node{kind: nodeMap, line: line, col: col}
		for _, mv := range v.Values {
			if err := c.addPair(out, mv, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *ast.MappingValueNode:
		out := &node{kind: nodeMap, line: line, col: col}
		if err := c.addPair(out, v, depth); err != nil {
			return nil, err
		}
		return out, nil
	case *ast.SequenceNode:
		out := &node{kind: nodeSeq, line: line, col: col}
		for _, e := range v.Values {
			x, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out.vals = append(out.vals, x)
		}
		return out, nil
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: nodeNull, line: line, col: col}, nil
	}
	return nil, c.errf(n, "YAML: unsupported node %s", n.Type())
}

func (c *converter) addPair(out *node, mv *ast.MappingValueNode, depth int) error {
	if mv.Key.IsMergeKey() {
		m, err := c.convert(mv.Value, depth+1)
		if err != nil {
			return err
		}
		if m.kind != nodeMap {
			return c.errf(mv, "YAML: merge key << needs a map")
		}
		for i, k := range m.keys {
			if out.get(k.text) == nil {
				out.keys = append(out.keys, k)
				out.vals = append(out.vals, m.vals[i])
			}
		}
		return nil
	}
	k, err := c.convert(mv.Key, depth+1)
	if err != nil {
		return err
	}
	if !k.isScalar() {
		return c.errf(mv.Key, "YAML: a map key must be a scalar")
	}
	if k.kind == nodeNull {
		k.text = ""
	}
	if prev := out.get(k.text); prev != nil {
		return c.errf(mv.Key, "YAML: duplicate key %q", k.text)
	}
	k.kind = nodeString
	v, err := c.convert(mv.Value, depth+1)
	if err != nil {
		return err
	}
	if !v.isScalar() && v.kline == 0 {
		v.kline = k.line
	}
	out.keys = append(out.keys, k)
	out.vals = append(out.vals, v)
	return nil
}
