package template

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// env holds what is known before any resource is looked at: the stack's
// identity, parameter values, mappings and conditions. It also collects
// warnings for the whole load.
type env struct {
	file      string
	name      string // stack name
	region    string
	account   string
	partition string
	urlSuffix string
	stackID   string
	params    map[string]*param
	mappings  map[string]any
	conds     map[string]*condition
	names     map[string]bool // every logical ID in the template
	warnings  map[string]bool
}

type param struct {
	name  string
	value any // string, or []any of strings for list types
}

// condition is one entry of the Conditions section, evaluated once.
type condition struct {
	name  string
	expr  any
	at    Pos
	state int // 0 not evaluated, 1 being evaluated, 2 done
	val   bool
}

func (e *env) warn(format string, args ...any) {
	e.warnings[fmt.Sprintf(format, args...)] = true
}

// hexHash is the source of every deterministic name: a SHA-256 of the parts.
func hexHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func newEnv(doc *document, opts Options) (*env, error) {
	e := &env{
		file: doc.file, name: opts.StackName, region: opts.Region, account: opts.AccountID,
		partition: "aws", urlSuffix: "amazonaws.com",
		params: map[string]*param{}, mappings: doc.mappings, conds: doc.conditions,
		names: map[string]bool{}, warnings: map[string]bool{},
	}
	switch {
	case strings.HasPrefix(e.region, "cn-"):
		e.partition, e.urlSuffix = "aws-cn", "amazonaws.com.cn"
	case strings.HasPrefix(e.region, "us-gov-"):
		e.partition = "aws-us-gov"
	}
	h := hexHash(e.name, e.region, e.account)
	e.stackID = fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s-%s-%s-%s-%s",
		e.partition, e.region, e.account, e.name, h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
	for _, r := range doc.resources {
		e.names[r.id] = true
	}
	if err := e.loadParams(doc, opts.Parameters); err != nil {
		return nil, err
	}
	return e, nil
}

// pseudo returns the value of a pseudo parameter.
func (e *env) pseudo(name string) (any, bool) {
	switch name {
	case "AWS::Region":
		return e.region, true
	case "AWS::AccountId":
		return e.account, true
	case "AWS::StackName":
		return e.name, true
	case "AWS::StackId":
		return e.stackID, true
	case "AWS::Partition":
		return e.partition, true
	case "AWS::URLSuffix":
		return e.urlSuffix, true
	case "AWS::NoValue":
		return noValue, true
	case "AWS::NotificationARNs":
		return []any{}, true
	}
	return nil, false
}

func (e *env) loadParams(doc *document, overrides map[string]string) error {
	declared := map[string]bool{}
	for _, d := range doc.params {
		declared[d.name] = true
	}
	for _, name := range sortedKeys(overrides) {
		if !declared[name] {
			return errorf(Pos{File: e.file}, "", "parameter override %s: the template has no parameter %q", name, name)
		}
	}
	for _, d := range doc.params {
		p, err := e.param(d, overrides)
		if err != nil {
			return err
		}
		e.params[d.name] = p
	}
	return nil
}

func (e *env) param(d *paramDecl, overrides map[string]string) (*param, error) {
	bad := func(at Pos, format string, args ...any) error {
		return errorf(at, "", "parameter %s: %s", d.name, fmt.Sprintf(format, args...))
	}
	typ, _ := d.props["Type"].(string)
	if typ == "" {
		return nil, bad(d.keys.at(d.at, "Type"), "Type must be a parameter type name")
	}
	var raw string
	at := d.keys.at(d.at, "Default")
	source := "Default"
	if v, ok := overrides[d.name]; ok {
		raw, at, source = v, d.at, "override"
	} else if dv, ok := d.props["Default"]; ok {
		if list, isList := dv.([]any); isList {
			// A list default is accepted for list types, as SAM CLI does.
			parts := make([]string, len(list))
			for i, x := range list {
				parts[i], _ = scalarString(x)
			}
			raw = strings.Join(parts, ",")
		} else if s, ok := scalarString(dv); ok {
			raw = s
		} else {
			return nil, bad(at, "Default must be a string or a number, found %s", describe(dv))
		}
	} else {
		return nil, errorf(d.at, "", "parameter %s has no Default and no value was given (--parameter-overrides %s=...)", d.name, d.name)
	}

	inner := typ
	if strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") && strings.HasSuffix(typ, ">") {
		inner = strings.TrimSuffix(strings.TrimPrefix(typ, "AWS::SSM::Parameter::Value<"), ">")
		e.warn("parameter %s (%s) is not looked up in SSM; its %s %q is used as the value", d.name, typ, source, raw)
	} else if strings.HasPrefix(typ, "AWS::SSM::Parameter::Name") {
		inner = "String"
	}
	isList := inner == "CommaDelimitedList" || strings.HasPrefix(inner, "List<")
	isNumber := inner == "Number" || inner == "List<Number>"
	switch {
	case inner == "String", inner == "Number", isList, strings.HasPrefix(inner, "AWS::"):
	default:
		return nil, bad(d.keys.at(d.at, "Type"), "unknown parameter type %q", typ)
	}

	values := []string{raw}
	if isList {
		values = nil
		if raw != "" {
			for _, s := range strings.Split(raw, ",") {
				values = append(values, strings.TrimSpace(s))
			}
		}
	}
	for _, v := range values {
		if err := checkParamValue(d, v, isNumber, source); err != nil {
			return nil, bad(at, "%s", err)
		}
	}
	if !isList {
		return &param{name: d.name, value: raw}, nil
	}
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = v
	}
	return &param{name: d.name, value: list}, nil
}

// checkParamValue applies a parameter's constraints to one value.
func checkParamValue(d *paramDecl, v string, isNumber bool, source string) error {
	if isNumber {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%s %q is not a number", source, v)
		}
	}
	if allowed, ok := d.props["AllowedValues"].([]any); ok {
		found := false
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i], _ = scalarString(a)
			if names[i] == v {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s %q is not one of the AllowedValues [%s]", source, v, strings.Join(names, ", "))
		}
	}
	if pat, ok := d.props["AllowedPattern"].(string); ok {
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			return fmt.Errorf("AllowedPattern %q: %v", pat, err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("%s %q does not match the AllowedPattern %q", source, v, pat)
		}
	}
	if n, ok := numberProp(d.props["MinLength"]); ok && float64(len(v)) < n {
		return fmt.Errorf("%s %q is shorter than MinLength %v", source, v, n)
	}
	if n, ok := numberProp(d.props["MaxLength"]); ok && float64(len(v)) > n {
		return fmt.Errorf("%s %q is longer than MaxLength %v", source, v, n)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if n, ok := numberProp(d.props["MinValue"]); ok && f < n {
			return fmt.Errorf("%s %s is less than MinValue %v", source, v, n)
		}
		if n, ok := numberProp(d.props["MaxValue"]); ok && f > n {
			return fmt.Errorf("%s %s is greater than MaxValue %v", source, v, n)
		}
	}
	return nil
}

func numberProp(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// evalConditions evaluates every condition, so a broken one is reported
// even when nothing uses it (CloudFormation does the same).
func (r *resolver) evalConditions() error {
	names := make([]string, 0, len(r.conds))
	for n := range r.conds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := r.condition(n, r.conds[n].at, scope{}); err != nil {
			return err
		}
	}
	return nil
}

// condition returns the value of a named condition.
func (r *resolver) condition(name string, at Pos, sc scope) (bool, error) {
	c, ok := r.conds[name]
	if !ok {
		return false, r.errf(sc, at, "unknown condition %q", name)
	}
	switch c.state {
	case 2:
		return c.val, nil
	case 1:
		return false, errorf(c.at, "", "condition %s: circular reference", name)
	}
	c.state = 1
	v, err := r.evalCond(c.expr, scope{label: "condition " + name, at: c.at})
	if err != nil {
		return false, err
	}
	c.state, c.val = 2, v
	return v, nil
}

// evalCond evaluates a condition function.
func (r *resolver) evalCond(v any, sc scope) (bool, error) {
	f, ok := v.(*fn)
	if !ok {
		return false, r.errf(sc, sc.at, "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition, found %s", describe(v))
	}
	switch f.name {
	case "Fn::Equals":
		args, err := r.args(f, sc, 2, 2)
		if err != nil {
			return false, err
		}
		a, err := r.resolve(args[0], sc)
		if err != nil {
			return false, err
		}
		b, err := r.resolve(args[1], sc)
		if err != nil {
			return false, err
		}
		as, aok := scalarString(a)
		bs, bok := scalarString(b)
		if aok && bok {
			return as == bs, nil
		}
		return canonical(a) == canonical(b), nil
	case "Fn::And", "Fn::Or":
		args, err := r.args(f, sc, 1, 10)
		if err != nil {
			return false, err
		}
		and := f.name == "Fn::And"
		for _, a := range args {
			ok, err := r.evalCond(a, scope{res: sc.res, label: sc.label, at: f.pos})
			if err != nil {
				return false, err
			}
			if ok != and {
				return ok, nil
			}
		}
		return and, nil
	case "Fn::Not":
		args, err := r.args(f, sc, 1, 1)
		if err != nil {
			return false, err
		}
		ok, err := r.evalCond(args[0], scope{res: sc.res, label: sc.label, at: f.pos})
		return !ok, err
	case "Condition":
		name, ok := f.arg.(string)
		if !ok {
			return false, r.errf(sc, f.pos, "Condition: expected a condition name, found %s", describe(f.arg))
		}
		return r.condition(name, f.pos, sc)
	}
	return false, r.errf(sc, f.pos, "%s cannot be used as a condition; use Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition", f.name)
}
