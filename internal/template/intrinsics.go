package template

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// resolver evaluates intrinsic functions. Before the SAM transform it runs
// with res == nil and resolves only what needs no resource (parameters,
// pseudo parameters, mappings, conditions); afterwards it also knows every
// resource and computes physical IDs on demand, in dependency order.
type resolver struct {
	*env
	res        map[string]*rawResource
	dropped    map[string]string // logical ID → the false condition that removed it
	samRefs    map[string]string // "Fn.Alias" and the like → generated logical ID
	ids        map[string]*identity
	visiting   []string
	referenced map[string]bool // resources not run by aloft that a run resource or an output refers to
}

// scope says where a value being resolved sits, for errors and warnings.
type scope struct {
	res   string // logical ID errors name
	label string // prefix for errors outside resources ("output Url")
	track bool   // note references to resources aloft does not run
	at    Pos    // fallback position
}

func (r *resolver) errf(sc scope, pos Pos, format string, args ...any) *Error {
	if pos.Line == 0 {
		pos = sc.at
	}
	if pos.File == "" {
		pos.File = r.file
	}
	msg := fmt.Sprintf(format, args...)
	if sc.label != "" {
		msg = sc.label + ": " + msg
	}
	return &Error{Pos: pos, Resource: sc.res, Msg: msg}
}

// resolve evaluates every intrinsic in v. Keys and elements whose value is
// AWS::NoValue are removed; a bare AWS::NoValue comes back as noValue.
func (r *resolver) resolve(v any, sc scope) (any, error) {
	switch x := v.(type) {
	case *fn:
		return r.call(x, sc)
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			e, err := r.resolve(x[k], sc)
			if err != nil {
				return nil, err
			}
			if e != noValue {
				out[k] = e
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			e, err := r.resolve(e, sc)
			if err != nil {
				return nil, err
			}
			if e != noValue {
				out = append(out, e)
			}
		}
		return out, nil
	}
	return v, nil
}

// args checks that f's argument is a literal list of min..max elements.
func (r *resolver) args(f *fn, sc scope, min, max int) ([]any, error) {
	list, ok := f.arg.([]any)
	if !ok || len(list) < min || len(list) > max {
		n := fmt.Sprint(min)
		if max != min {
			n = fmt.Sprintf("%d to %d", min, max)
		}
		return nil, r.errf(sc, f.pos, "%s: expected a list of %s arguments, found %s", f.name, n, describe(f.arg))
	}
	return list, nil
}

func (r *resolver) str(v any, f *fn, sc scope, what string) (string, error) {
	v, err := r.resolve(v, sc)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(v)
	if !ok {
		return "", r.errf(sc, f.pos, "%s: %s must be a string, found %s", f.name, what, describe(v))
	}
	return s, nil
}

func (r *resolver) list(v any, f *fn, sc scope, what string) ([]any, error) {
	v, err := r.resolve(v, sc)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, r.errf(sc, f.pos, "%s: %s must be a list, found %s", f.name, what, describe(v))
	}
	return l, nil
}

func (r *resolver) call(f *fn, sc scope) (any, error) {
	switch f.name {
	case "Ref":
		name, ok := f.arg.(string)
		if !ok {
			return nil, r.errf(sc, f.pos, "Ref: expected a name, found %s", describe(f.arg))
		}
		return r.ref(name, f.pos, sc, "Ref")
	case "Fn::GetAtt":
		return r.getAtt(f, sc)
	case "Fn::Sub":
		return r.sub(f, sc)
	case "Fn::If":
		args, err := r.args(f, sc, 3, 3)
		if err != nil {
			return nil, err
		}
		name, ok := args[0].(string)
		if !ok {
			return nil, r.errf(sc, f.pos, "Fn::If: the first argument must be a condition name, found %s", describe(args[0]))
		}
		ok, err = r.condition(name, f.pos, sc)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.resolve(args[1], sc)
		}
		return r.resolve(args[2], sc)
	case "Fn::Join":
		return r.join(f, sc)
	case "Fn::Select":
		args, err := r.args(f, sc, 2, 2)
		if err != nil {
			return nil, err
		}
		is, err := r.str(args[0], f, sc, "the index")
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, r.errf(sc, f.pos, "Fn::Select: the index must be a whole number, found %q", is)
		}
		list, err := r.list(args[1], f, sc, "the second argument")
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(list) {
			return nil, r.errf(sc, f.pos, "Fn::Select: index %d is out of range for a list of %d", i, len(list))
		}
		return list[i], nil
	case "Fn::Split":
		args, err := r.args(f, sc, 2, 2)
		if err != nil {
			return nil, err
		}
		sep, err := r.str(args[0], f, sc, "the delimiter")
		if err != nil {
			return nil, err
		}
		s, err := r.str(args[1], f, sc, "the source")
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		return r.findInMap(f, sc)
	case "Fn::Base64":
		s, err := r.str(f.arg, f, sc, "the argument")
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAZs":
		region, err := r.str(f.arg, f, sc, "the region")
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = r.region
		}
		return []any{region + "a", region + "b", region + "c"}, nil
	case "Fn::ImportValue":
		name, err := r.str(f.arg, f, sc, "the export name")
		if err != nil {
			return nil, err
		}
		r.warn("Fn::ImportValue %q: other stacks are not available locally; it resolves to the placeholder \"imported-%s\"", name, name)
		return "imported-" + name, nil
	case "Fn::Cidr":
		return r.cidr(f, sc)
	case "Fn::Length":
		list, err := r.list(f.arg, f, sc, "the argument")
		if err != nil {
			return nil, err
		}
		return int64(len(list)), nil
	case "Fn::ToJsonString":
		v, err := r.resolve(f.arg, sc)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(plain(v))
		if err != nil {
			return nil, r.errf(sc, f.pos, "Fn::ToJsonString: %v", err)
		}
		return string(b), nil
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		return r.evalCond(f, sc)
	case "Condition":
		// Outside a condition context {"Condition": x} is ordinary data.
		v, err := r.resolve(f.arg, sc)
		if err != nil {
			return nil, err
		}
		return map[string]any{"Condition": v}, nil
	case "Fn::Transform":
		return nil, r.errf(sc, f.pos, "Fn::Transform (macros such as AWS::Include) is not supported")
	}
	return nil, r.errf(sc, f.pos, "unknown intrinsic function %s", f.name)
}

// ref resolves a Ref (or a ${Name} in Fn::Sub).
func (r *resolver) ref(name string, pos Pos, sc scope, what string) (any, error) {
	if v, ok := r.pseudo(name); ok {
		return v, nil
	}
	if p, ok := r.params[name]; ok {
		return p.value, nil
	}
	id, err := r.target(name, pos, sc, what)
	if err != nil {
		return nil, err
	}
	ident, err := r.identity(id, pos, sc)
	if err != nil {
		return nil, err
	}
	return ident.ref, nil
}

// target finds the resource a Ref, Fn::GetAtt or ${…} names.
func (r *resolver) target(name string, pos Pos, sc scope, what string) (string, error) {
	if id, ok := r.samRefs[name]; ok {
		name = id
	}
	unknown := "unknown resource or parameter %q"
	if what == "Fn::GetAtt" {
		unknown = "unknown resource %q"
	}
	if r.res == nil {
		if r.names[name] {
			return "", r.errf(sc, pos, "%s: %q is a resource; only parameters, mappings and pseudo parameters can be used here", what, name)
		}
		return "", r.errf(sc, pos, "%s: "+unknown, what, name)
	}
	res, ok := r.res[name]
	if !ok {
		if c, ok := r.dropped[name]; ok {
			return "", r.errf(sc, pos, "%s: resource %q is not created because its condition %q is false", what, name, c)
		}
		return "", r.errf(sc, pos, "%s: "+unknown, what, name)
	}
	if sc.track && !runTypes[res.typ] {
		r.referenced[name] = true
	}
	return name, nil
}

func (r *resolver) getAtt(f *fn, sc scope) (any, error) {
	var id, attr string
	switch a := f.arg.(type) {
	case string:
		var ok bool
		if id, attr, ok = strings.Cut(a, "."); !ok {
			return nil, r.errf(sc, f.pos, "Fn::GetAtt: expected LogicalID.Attribute, found %q", a)
		}
	case []any:
		if len(a) != 2 {
			return nil, r.errf(sc, f.pos, "Fn::GetAtt: expected [LogicalID, Attribute], found a list of %d", len(a))
		}
		var ok bool
		if id, ok = a[0].(string); !ok {
			return nil, r.errf(sc, f.pos, "Fn::GetAtt: the logical ID must be a string, found %s", describe(a[0]))
		}
		s, err := r.str(a[1], f, sc, "the attribute name")
		if err != nil {
			return nil, err
		}
		attr = s
	default:
		return nil, r.errf(sc, f.pos, "Fn::GetAtt: expected [LogicalID, Attribute], found %s", describe(f.arg))
	}
	return r.attribute(id, attr, f.pos, sc)
}

func (r *resolver) attribute(name, attr string, pos Pos, sc scope) (string, error) {
	id, err := r.target(name, pos, sc, "Fn::GetAtt")
	if err != nil {
		return "", err
	}
	ident, err := r.identity(id, pos, sc)
	if err != nil {
		return "", err
	}
	if v, ok := ident.attrs[attr]; ok {
		return v, nil
	}
	return placeholderAttr(r.env, r.res[id], attr), nil
}

func (r *resolver) sub(f *fn, sc scope) (any, error) {
	var tmpl string
	var vars map[string]any
	switch a := f.arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, r.errf(sc, f.pos, "Fn::Sub: expected a string or [string, {variables}], found a list of %d", len(a))
		}
		s, ok := a[0].(string)
		m, mok := a[1].(map[string]any)
		if !ok || !mok {
			return nil, r.errf(sc, f.pos, "Fn::Sub: expected [string, {variables}]")
		}
		tmpl, vars = s, m
	default:
		return nil, r.errf(sc, f.pos, "Fn::Sub: expected a string or [string, {variables}], found %s", describe(f.arg))
	}
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			break
		}
		b.WriteString(tmpl[:i])
		rest := tmpl[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			b.WriteString(tmpl[i:])
			break
		}
		name := rest[:j]
		tmpl = rest[j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		s, err := r.subVar(strings.TrimSpace(name), vars, f, sc)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (r *resolver) subVar(name string, vars map[string]any, f *fn, sc scope) (string, error) {
	var v any
	var err error
	if x, ok := vars[name]; ok {
		v, err = r.resolve(x, sc)
	} else if _, ok := r.samRefs[name]; ok {
		v, err = r.ref(name, f.pos, sc, "Fn::Sub") // ${MyApi.Stage}, ${MyFunction.Alias}
	} else if id, attr, ok := strings.Cut(name, "."); ok {
		v, err = r.attribute(id, attr, f.pos, sc)
	} else {
		v, err = r.ref(name, f.pos, sc, "Fn::Sub")
	}
	if err != nil {
		return "", err
	}
	s, ok := scalarString(v)
	if !ok {
		return "", r.errf(sc, f.pos, "Fn::Sub: ${%s} is %s, not a string", name, describe(v))
	}
	return s, nil
}

func (r *resolver) join(f *fn, sc scope) (any, error) {
	args, err := r.args(f, sc, 2, 2)
	if err != nil {
		return nil, err
	}
	sep, err := r.str(args[0], f, sc, "the delimiter")
	if err != nil {
		return nil, err
	}
	list, err := r.list(args[1], f, sc, "the second argument")
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(list))
	for i, e := range list {
		s, ok := scalarString(e)
		if !ok {
			return nil, r.errf(sc, f.pos, "Fn::Join: element %d is %s, not a string", i, describe(e))
		}
		parts[i] = s
	}
	return strings.Join(parts, sep), nil
}

func (r *resolver) findInMap(f *fn, sc scope) (any, error) {
	args, err := r.args(f, sc, 3, 4)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 3)
	for i, what := range []string{"the map name", "the top-level key", "the second-level key"} {
		if keys[i], err = r.str(args[i], f, sc, what); err != nil {
			return nil, err
		}
	}
	fallback := func(format string, a ...any) (any, error) {
		if len(args) == 4 {
			if m, ok := args[3].(map[string]any); ok {
				if d, ok := m["DefaultValue"]; ok {
					return r.resolve(d, sc)
				}
			}
		}
		return nil, r.errf(sc, f.pos, "Fn::FindInMap: "+format, a...)
	}
	m, ok := r.mappings[keys[0]].(map[string]any)
	if !ok {
		return fallback("unknown mapping %q", keys[0])
	}
	top, ok := m[keys[1]].(map[string]any)
	if !ok {
		return fallback("mapping %q has no key %q", keys[0], keys[1])
	}
	v, ok := top[keys[2]]
	if !ok {
		return fallback("mapping %q has no key %q under %q", keys[0], keys[2], keys[1])
	}
	return v, nil
}

// cidr implements Fn::Cidr: count blocks of cidrBits host bits each, carved
// in order from the start of ipBlock.
func (r *resolver) cidr(f *fn, sc scope) (any, error) {
	args, err := r.args(f, sc, 3, 3)
	if err != nil {
		return nil, err
	}
	var s [3]string
	for i, what := range []string{"the IP block", "the count", "the CIDR bits"} {
		if s[i], err = r.str(args[i], f, sc, what); err != nil {
			return nil, err
		}
	}
	prefix, err := netip.ParsePrefix(s[0])
	if err != nil {
		return nil, r.errf(sc, f.pos, "Fn::Cidr: %v", err)
	}
	count, err1 := strconv.Atoi(s[1])
	bits, err2 := strconv.Atoi(s[2])
	total := prefix.Addr().BitLen()
	if err1 != nil || err2 != nil || count < 1 || bits < 1 || total-bits < prefix.Bits() ||
		(total-bits-prefix.Bits() < 31 && count > 1<<(total-bits-prefix.Bits())) {
		return nil, r.errf(sc, f.pos, "Fn::Cidr: cannot carve %s blocks of %s host bits from %s", s[1], s[2], s[0])
	}
	base := new(big.Int).SetBytes(prefix.Masked().Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	out := make([]any, count)
	for i := range out {
		n := new(big.Int).Add(base, new(big.Int).Mul(step, big.NewInt(int64(i))))
		buf := n.FillBytes(make([]byte, total/8))
		addr, _ := netip.AddrFromSlice(buf)
		out[i] = netip.PrefixFrom(addr, total-bits).String()
	}
	return out, nil
}
