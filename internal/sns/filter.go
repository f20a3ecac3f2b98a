package sns

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Attribute is one SNS message attribute.
type Attribute struct {
	Type  string // String, String.Array, Number or Binary
	Value string // Binary values are base64
}

// FilterPolicy is a parsed subscription filter policy. The zero value (no
// policy) matches every message.
type FilterPolicy struct {
	root map[string]any
	body bool // FilterPolicyScope MessageBody
}

// ParseFilterPolicy parses a FilterPolicy for a FilterPolicyScope
// ("MessageAttributes", the default, or "MessageBody").
func ParseFilterPolicy(policy, scope string) (FilterPolicy, error) {
	var fp FilterPolicy
	switch scope {
	case "", "MessageAttributes":
	case "MessageBody":
		fp.body = true
	default:
		return fp, fmt.Errorf("FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", scope)
	}
	if strings.TrimSpace(policy) == "" {
		return fp, nil
	}
	if err := json.Unmarshal([]byte(policy), &fp.root); err != nil {
		return fp, fmt.Errorf("FilterPolicy: failed to parse JSON: %v", err)
	}
	if err := validate(fp.root, fp.body); err != nil {
		return fp, fmt.Errorf("FilterPolicy: %v", err)
	}
	return fp, nil
}

func validate(m map[string]any, nested bool) error {
	for k, v := range m {
		switch v := v.(type) {
		case []any:
			if k == "$or" {
				for _, alt := range v {
					am, ok := alt.(map[string]any)
					if !ok {
						return fmt.Errorf("$or must list objects")
					}
					if err := validate(am, nested); err != nil {
						return err
					}
				}
			}
		case map[string]any:
			if !nested {
				return fmt.Errorf("%s: nested keys need FilterPolicyScope MessageBody", k)
			}
			if err := validate(v, nested); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: match values must be in an array", k)
		}
	}
	return nil
}

// Match reports whether a message passes the policy: attributes are matched
// in the MessageAttributes scope, the message (as JSON) in the MessageBody
// scope. A body that is not JSON matches no body policy.
func (fp FilterPolicy) Match(message string, attrs map[string]Attribute) bool {
	if fp.root == nil {
		return true
	}
	if fp.body {
		var doc map[string]any
		if json.Unmarshal([]byte(message), &doc) != nil {
			return false
		}
		return matchObject(fp.root, doc)
	}
	doc := make(map[string]any, len(attrs))
	for k, a := range attrs {
		switch {
		case a.Type == "Number":
			if f, err := strconv.ParseFloat(a.Value, 64); err == nil {
				doc[k] = f
			} else {
				doc[k] = a.Value
			}
		case a.Type == "String.Array":
			var list []any
			if json.Unmarshal([]byte(a.Value), &list) == nil {
				doc[k] = list
			} else {
				doc[k] = a.Value
			}
		case strings.HasPrefix(a.Type, "Binary"):
			// Binary attributes are not matched by filter policies.
		default:
			doc[k] = a.Value
		}
	}
	return matchObject(fp.root, doc)
}

// matchObject: every key of the policy must match (AND); "$or" holds
// alternatives of which one must match.
func matchObject(policy map[string]any, doc map[string]any) bool {
	for k, cond := range policy {
		if k == "$or" {
			alts, _ := cond.([]any)
			ok := false
			for _, a := range alts {
				if am, _ := a.(map[string]any); am != nil && matchObject(am, doc) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
			continue
		}
		v, present := doc[k]
		switch c := cond.(type) {
		case map[string]any:
			sub, _ := v.(map[string]any)
			if sub == nil {
				return false
			}
			if !matchObject(c, sub) {
				return false
			}
		case []any:
			if !matchValue(c, v, present) {
				return false
			}
		}
	}
	return true
}

// matchValue: any of the conditions (OR) must match the value, or one of
// its elements when the value is an array.
func matchValue(conds []any, v any, present bool) bool {
	values := []any{v}
	if list, ok := v.([]any); ok {
		values = list
	}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			if ex, ok := m["exists"].(bool); ok {
				if ex == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, val := range values {
			if matchOne(c, val) {
				return true
			}
		}
	}
	return false
}

func matchOne(cond any, val any) bool {
	switch c := cond.(type) {
	case string:
		s, ok := val.(string)
		return ok && s == c
	case float64:
		f, ok := val.(float64)
		return ok && f == c
	case bool:
		b, ok := val.(bool)
		return ok && b == c
	case nil:
		return val == nil
	case map[string]any:
		for op, arg := range c {
			switch op {
			case "prefix":
				p, _ := arg.(string)
				s, ok := val.(string)
				return ok && strings.HasPrefix(s, p)
			case "suffix":
				p, _ := arg.(string)
				s, ok := val.(string)
				return ok && strings.HasSuffix(s, p)
			case "equals-ignore-case":
				p, _ := arg.(string)
				s, ok := val.(string)
				return ok && strings.EqualFold(s, p)
			case "anything-but":
				switch a := arg.(type) {
				case []any:
					for _, x := range a {
						if matchOne(x, val) {
							return false
						}
					}
					return true
				case map[string]any:
					return !matchOne(a, val)
				default:
					return !matchOne(a, val)
				}
			case "numeric":
				return matchNumeric(arg, val)
			}
		}
	}
	return false
}

func matchNumeric(arg any, val any) bool {
	f, ok := val.(float64)
	if !ok {
		return false
	}
	ops, _ := arg.([]any)
	if len(ops)%2 != 0 || len(ops) == 0 {
		return false
	}
	for i := 0; i < len(ops); i += 2 {
		op, _ := ops[i].(string)
		n, ok := ops[i+1].(float64)
		if !ok {
			return false
		}
		var r bool
		switch op {
		case "=":
			r = math.Abs(f-n) < 1e-9
		case "<":
			r = f < n
		case "<=":
			r = f <= n
		case ">":
			r = f > n
		case ">=":
			r = f >= n
		}
		if !r {
			return false
		}
	}
	return true
}
