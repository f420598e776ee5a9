package tokenapi

import (
	"bytes"
	"encoding/json"
)

// ssoObject is an SSO's JSON answer split into its top-level members without decoding the
// values: unknown fields are passed through byte for byte (numbers keep their precision), and
// no reflection runs on the hot path.
type ssoObject struct {
	raw     []byte
	members []member
}

type member struct {
	key   []byte // between the quotes, still escaped
	start int    // offset of the member's opening quote in raw
	end   int    // offset just past its value
	value []byte // the raw JSON value
}

// parseSSOObject reports false unless b is a valid JSON object.
func parseSSOObject(b []byte, obj *ssoObject) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || !json.Valid(b) {
		return false
	}
	obj.raw = b
	obj.members = obj.members[:0]
	i := skipSpace(b, 1)
	for i < len(b) && b[i] != '}' {
		start := i
		keyEnd := skipString(b, i)
		key := b[i+1 : keyEnd-1]
		i = skipSpace(b, keyEnd)
		i = skipSpace(b, i+1) // the colon
		valStart := i
		i = skipValue(b, i)
		obj.members = append(obj.members, member{key: key, start: start, end: i, value: b[valStart:i]})
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// get returns the raw value of the first member named key.
func (o *ssoObject) get(key string) ([]byte, bool) {
	for _, m := range o.members {
		if keyEquals(m.key, key) {
			return m.value, true
		}
	}
	return nil, false
}

// stringValue returns the member's value when it is a JSON string.
func (o *ssoObject) stringValue(key string) (string, bool) {
	v, ok := o.get(key)
	if !ok || len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// appendMembers appends ",\"k\":v" for every member whose key is not reserved.
func (o *ssoObject) appendMembers(dst []byte, reserved []string) []byte {
	for _, m := range o.members {
		skip := false
		for _, r := range reserved {
			if keyEquals(m.key, r) {
				skip = true
				break
			}
		}
		if !skip {
			dst = append(dst, ',')
			dst = append(dst, o.raw[m.start:m.end]...)
		}
	}
	return dst
}

// keyEquals compares an escaped JSON key with a plain name; escaped keys are decoded first so
// that "\u0063ode" cannot smuggle a second "code" past the reserved list.
func keyEquals(escaped []byte, name string) bool {
	if bytes.IndexByte(escaped, '\\') < 0 {
		return string(escaped) == name
	}
	var s string
	quoted := make([]byte, 0, len(escaped)+2)
	quoted = append(append(append(quoted, '"'), escaped...), '"')
	return json.Unmarshal(quoted, &s) == nil && s == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the offset just past the value starting at b[i]; b is valid JSON.
func skipValue(b []byte, i int) int {
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
		return len(b)
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
			i++
		}
		return i
	}
}
