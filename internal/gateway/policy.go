package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
)

// policy is the IAM policy a Lambda authorizer returns, reduced to what
// execute-api evaluates: statements allowing or denying execute-api:Invoke
// on resources named by ARN patterns with * and ? wildcards.
type policy struct {
	statements []statement
}

type statement struct {
	allow     bool
	actions   []string
	resources []string
}

type effect int

const (
	effectNone effect = iota
	effectAllow
	effectDeny
)

// stringOrList decodes an IAM field that may be a string or a list.
type stringOrList []string

// UnmarshalJSON accepts "x" as well as ["x", "y"].
func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func parsePolicy(raw json.RawMessage) (*policy, error) {
	var doc struct {
		Statement []struct {
			Effect   string       `json:"Effect"`
			Action   stringOrList `json:"Action"`
			Resource stringOrList `json:"Resource"`
		} `json:"Statement"`
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("authorizer: no policyDocument")
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("authorizer: policyDocument: %w", err)
	}
	p := &policy{}
	for _, st := range doc.Statement {
		if !strings.EqualFold(st.Effect, "Allow") && !strings.EqualFold(st.Effect, "Deny") {
			return nil, fmt.Errorf("authorizer: policyDocument: Effect %q", st.Effect)
		}
		p.statements = append(p.statements, statement{allow: strings.EqualFold(st.Effect, "Allow"), actions: st.Action, resources: st.Resource})
	}
	return p, nil
}

// evaluate decides for one route ARN: an explicit Deny wins over any Allow.
func (p *policy) evaluate(arn string) effect {
	if p == nil {
		return effectNone
	}
	out := effectNone
	for _, st := range p.statements {
		if !anyMatch(st.actions, "execute-api:Invoke") || !anyMatch(st.resources, arn) {
			continue
		}
		if !st.allow {
			return effectDeny
		}
		out = effectAllow
	}
	return out
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches IAM patterns: * is any run of characters (including
// "/"), ? any one character, case-sensitive.
func wildcard(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if wildcard(pattern, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		default:
			if s == "" || pattern[0] != s[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}
