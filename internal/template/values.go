package template

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Template values before resolution are plain Go values (string, int64,
// float64, bool, nil, []any, map[string]any) plus *fn for every intrinsic
// function call. Keeping the plain types means the SAM transform can build
// CloudFormation with ordinary map literals; only the intrinsic calls carry a
// position, because they are where resolution errors happen. Positions of
// property keys live beside the values in a posTable.

// fn is one intrinsic function call ({"Ref": x}, {"Fn::Sub": x}, …) with the
// position of the call in the template.
type fn struct {
	name string
	arg  any
	pos  Pos
}

// noValueType marks a value removed by AWS::NoValue; maps drop the key and
// lists the element.
type noValueType struct{}

var noValue = &noValueType{}

// intrinsicNames are the single keys that make a mapping an intrinsic call.
var intrinsicNames = map[string]bool{
	"Ref": true, "Condition": true,
	"Fn::GetAtt": true, "Fn::Sub": true, "Fn::Join": true, "Fn::Select": true,
	"Fn::Split": true, "Fn::If": true, "Fn::Equals": true, "Fn::Not": true,
	"Fn::And": true, "Fn::Or": true, "Fn::FindInMap": true, "Fn::Base64": true,
	"Fn::GetAZs": true, "Fn::ImportValue": true, "Fn::Cidr": true,
	"Fn::Length": true, "Fn::ToJsonString": true, "Fn::Transform": true,
}

func ref(name string, pos Pos) *fn { return &fn{name: "Ref", arg: name, pos: pos} }

func getAtt(id, attr string, pos Pos) *fn {
	return &fn{name: "Fn::GetAtt", arg: []any{id, attr}, pos: pos}
}

func sub(s string, pos Pos) *fn { return &fn{name: "Fn::Sub", arg: s, pos: pos} }

func subVars(s string, vars map[string]any, pos Pos) *fn {
	return &fn{name: "Fn::Sub", arg: []any{s, vars}, pos: pos}
}

// refName returns the target of a {"Ref": name} call.
func refName(v any) (string, bool) {
	f, ok := v.(*fn)
	if !ok || f.name != "Ref" {
		return "", false
	}
	s, ok := f.arg.(string)
	return s, ok
}

// posTable maps a path of property keys (inside one resource's Properties,
// or one Globals section) to the position of the key.
type posTable map[string]Pos

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// at returns the position recorded for path, or for its nearest recorded
// ancestor, or fallback.
func (t posTable) at(fallback Pos, path ...string) Pos {
	for n := len(path); n > 0; n-- {
		if p, ok := t[pathKey(path[:n])]; ok {
			return p
		}
	}
	return fallback
}

// sub returns the entries under prefix, re-rooted.
func (t posTable) sub(prefix ...string) posTable {
	out := posTable{}
	pk := pathKey(prefix) + "\x00"
	for k, p := range t {
		if strings.HasPrefix(k, pk) {
			out[k[len(pk):]] = p
		}
	}
	return out
}

// copyInto copies the entries of t under prefix in dst.
func (t posTable) copyInto(dst posTable, prefix ...string) {
	for k, p := range t {
		if len(prefix) > 0 {
			k = pathKey(prefix) + "\x00" + k
		}
		dst[k] = p
	}
}

// plain turns a value into JSON-ready data, writing intrinsic calls back in
// their long form. It is used for hashing and for Fn::ToJsonString.
func plain(v any) any {
	switch x := v.(type) {
	case *fn:
		return map[string]any{x.name: plain(x.arg)}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case *noValueType:
		return map[string]any{"Ref": "AWS::NoValue"}
	}
	return v
}

// canonical renders a value as deterministic JSON (map keys sorted).
func canonical(v any) string {
	b, err := json.Marshal(plain(v))
	if err != nil {
		// Only NaN or infinities can fail, and YAML floats that parse to
		// those are kept as strings by the parser.
		return fmt.Sprint(v)
	}
	return string(b)
}

// deepCopy copies maps and lists so a transform can edit a value shared with
// Globals or with another resource.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case *fn:
		return &fn{name: x.name, arg: deepCopy(x.arg), pos: x.pos}
	}
	return v
}

// scalarString renders a resolved scalar as CloudFormation does when a
// string is needed. ok is false for lists, maps and nil.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// describe names the kind of a value for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case int64, float64, bool:
		s, _ := scalarString(x)
		return s
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case *fn:
		return "an intrinsic function (" + x.name + ")"
	case *noValueType:
		return "AWS::NoValue"
	}
	return fmt.Sprintf("%T", v)
}

// sortedKeys returns the keys of m in order, so errors and generated
// resources do not depend on map iteration order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isAlnum reports whether s is a valid CloudFormation logical ID.
func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// alnum keeps only the letters and digits of s.
func alnum(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
