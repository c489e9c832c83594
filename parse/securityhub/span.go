package securityhub

import "unsafe"

// unsafeBytes returns the bytes of s without copying them; they must not be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Byte spans of values inside a record that fastjson.Validate has accepted, so that each finding of an
// EventBridge event keeps its exact bytes as its original. The functions assume well-formed JSON.

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// skipString returns the end of the string starting at b[i] (after its closing quote).
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// member returns the span of the value of key in the object starting at b[i], or ok=false.
func member(b []byte, i int, key string) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		ke := skipString(b, i)
		k := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		i = skipWS(b, i+1)
		ve := skipValue(b, i)
		if string(k) == key {
			return i, ve, true
		}
		i = skipWS(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return 0, 0, false
}

// elements returns the spans of the elements of the array starting at b[i].
func elements(b []byte, i int) [][2]int {
	if i >= len(b) || b[i] != '[' {
		return nil
	}
	var out [][2]int
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != ']' {
		e := skipValue(b, i)
		if e == i {
			break
		}
		out = append(out, [2]int{i, e})
		i = skipWS(b, e)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out
}
