package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// document is a template as written, sections split out and values
// converted, before parameters, conditions or the SAM transform are applied.
type document struct {
	file         string
	transforms   []string
	transformPos Pos
	params       []*paramDecl
	mappings     map[string]any
	conditions   map[string]*condition
	globals      map[string]*globalSection
	globalsPos   Pos
	resources    []*rawResource // template order
	outputs      []*outputDecl  // template order
}

type paramDecl struct {
	name  string
	props map[string]any
	keys  posTable
	at    Pos
}

type globalSection struct {
	props map[string]any
	pos   posTable
	at    Pos
}

// rawResource is a resource before resolution. The SAM transform consumes
// the AWS::Serverless ones and produces more of these.
type rawResource struct {
	id         string
	typ        string
	props      map[string]any
	pos        posTable // positions of property keys
	metadata   map[string]any
	dependsOn  []string
	dependsPos Pos
	condition  string
	condPos    Pos
	fromSAM    string
	at         Pos // position of the logical ID
}

// user is the logical ID to name in errors: the SAM resource the user wrote
// when this one was generated.
func (r *rawResource) user() string {
	if r.fromSAM != "" {
		return r.fromSAM
	}
	return r.id
}

type outputDecl struct {
	name        string
	value       any
	description any
	export      any
	condition   string
	condPos     Pos
	at          Pos
}

// shortTags maps each YAML short-form tag to its long-form intrinsic.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs",
	"!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// rewriteTags replaces every short-form tag in the tree with its long form
// ({"Fn::Sub": …}), keeping the node's Line and Column so errors still point
// at the tag. Children are rewritten first, so nested short forms work.
func rewriteTags(n *yaml.Node, file string) error {
	for _, c := range n.Content {
		if err := rewriteTags(c, file); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil
	}
	at := Pos{File: file, Line: n.Line, Column: n.Column}
	long, ok := shortTags[n.Tag]
	if !ok {
		return errorf(at, "", "unknown tag %s", n.Tag)
	}
	arg := *n
	arg.Style &^= yaml.TaggedStyle
	arg.Anchor = ""
	switch arg.Kind {
	case yaml.ScalarNode:
		arg.Tag = "!!str"
	case yaml.SequenceNode:
		arg.Tag = "!!seq"
	case yaml.MappingNode:
		arg.Tag = "!!map"
	}
	if long == "Fn::GetAtt" && arg.Kind == yaml.ScalarNode {
		// CloudFormation splits "A.B.C" at the first dot: attribute "B.C".
		id, attr, ok := strings.Cut(arg.Value, ".")
		if !ok || id == "" || attr == "" {
			return errorf(at, "", "!GetAtt %q: expected LogicalID.Attribute", arg.Value)
		}
		arg = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column,
			Content: []*yaml.Node{strNode(id, n), strNode(attr, n)}}
	}
	*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Anchor: n.Anchor,
		Content: []*yaml.Node{strNode(long, n), &arg}}
	return nil
}

func strNode(s string, at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: at.Line, Column: at.Column}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML (or JSON) syntax error into an *Error with the
// line when one can be found.
func syntaxError(file string, data []byte, err error) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		// yaml.v3 reports many JSON mistakes without a line; encoding/json
		// gives the offset.
		var v any
		var se *json.SyntaxError
		if jerr := json.Unmarshal(data, &v); errors.As(jerr, &se) {
			line, col := lineCol(data, int(se.Offset))
			return errorf(Pos{File: file, Line: line, Column: col}, "", "invalid JSON: %s", se.Error())
		}
	}
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return errorf(Pos{File: file}, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	if l := firstFailingLine(data, m[2]); l > 0 {
		line = l
	}
	return errorf(Pos{File: file, Line: line}, "", "invalid YAML: %s", m[2])
}

// firstFailingLine finds the line a YAML error is on. yaml.v3 reports the
// line where the enclosing block starts, which for an indentation mistake
// can be line 1. A prefix of the document that includes the bad line fails
// with the same message and a shorter one does not, so a binary search over
// prefixes finds it; 0 when the search cannot confirm a line.
func firstFailingLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(n int) bool {
		var node yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &node)
		if err == nil {
			return false
		}
		m := yamlLine.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	lo, hi := 1, len(lines)
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if !fails(lo) || (lo > 1 && fails(lo-1)) {
		return 0
	}
	return lo
}

func lineCol(data []byte, offset int) (int, int) {
	if offset > len(data) {
		offset = len(data)
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := offset - bytes.LastIndexByte(before, '\n')
	if offset > 0 {
		col-- // encoding/json's offset is just past the bad byte
	}
	return line, max(col, 1)
}

// parser converts yaml.Node trees into template values.
type parser struct{ file string }

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Column: n.Column} }

type pair struct {
	key      string
	keyNode  *yaml.Node
	valNode  *yaml.Node
	inherits bool // came from a "<<" merge key
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// pairs lists the entries of a mapping, rejecting duplicate keys and
// applying YAML merge keys ("<<"), whose entries lose to explicit ones.
func (p *parser) pairs(n *yaml.Node) ([]pair, error) {
	var out []pair
	seen := map[string]bool{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errorf(p.pos(k), "", "mapping keys must be strings")
		}
		if k.Tag == "!!merge" {
			v = deref(v)
			sources := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, s := range sources {
				s = deref(s)
				if s.Kind != yaml.MappingNode {
					return nil, errorf(p.pos(s), "", "merge key value must be a mapping")
				}
				inner, err := p.pairs(s)
				if err != nil {
					return nil, err
				}
				for _, e := range inner {
					e.inherits = true
					merged = append(merged, e)
				}
			}
			continue
		}
		if seen[k.Value] {
			return nil, errorf(p.pos(k), "", "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyNode: k, valNode: v})
	}
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// value converts a node. When pt is not nil the position of every mapping
// key below path is recorded in it (lists end the recording: elements are
// not addressed by path).
func (p *parser) value(n *yaml.Node, path []string, pt posTable) (any, error) {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := p.value(c, nil, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		ps, err := p.pairs(n)
		if err != nil {
			return nil, err
		}
		if len(ps) == 1 {
			name := ps[0].key
			if strings.HasPrefix(name, "Fn::") && !intrinsicNames[name] {
				return nil, errorf(p.pos(n), "", "unknown intrinsic function %s", name)
			}
			if intrinsicNames[name] {
				arg, err := p.value(ps[0].valNode, nil, nil)
				if err != nil {
					return nil, err
				}
				return &fn{name: name, arg: arg, pos: p.pos(n)}, nil
			}
		}
		out := make(map[string]any, len(ps))
		for _, e := range ps {
			var sub []string
			if pt != nil {
				sub = append(append([]string(nil), path...), e.key)
				pt[pathKey(sub)] = p.pos(e.keyNode)
			}
			v, err := p.value(e.valNode, sub, pt)
			if err != nil {
				return nil, err
			}
			out[e.key] = v
		}
		return out, nil
	}
	return nil, nil
}

// leadingZero matches decimals like 012345678901: almost always IDs (an
// account number) that YAML would read as octal or lose the zero of, so
// they stay strings.
var leadingZero = regexp.MustCompile(`^[-+]?0[0-9_]+$`)

func scalar(n *yaml.Node) any {
	tag := n.ShortTag()
	if (tag == "!!int" || tag == "!!float") && leadingZero.MatchString(n.Value) {
		return n.Value
	}
	switch tag {
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value
		}
		return b
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i
		}
		return n.Value
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return n.Value
		}
		return f
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch deref(n).Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "a scalar"
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "nothing"
}

// knownGlobals are the Globals sections SAM accepts.
var knownGlobals = map[string]bool{"Function": true, "Api": true, "HttpApi": true, "SimpleTable": true, "LayerVersion": true}

// resourceAttributes are the keys a resource may have besides Type and
// Properties; the update and deletion policies mean nothing locally.
var resourceAttributes = map[string]bool{
	"Type": true, "Properties": true, "Metadata": true, "DependsOn": true, "Condition": true,
	"DeletionPolicy": true, "UpdateReplacePolicy": true, "UpdatePolicy": true, "CreationPolicy": true,
}

// parseDocument parses the template text and splits it into sections.
func parseDocument(file string, data []byte) (*document, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(file, data, err)
	}
	if len(root.Content) == 0 {
		return nil, errorf(Pos{File: file}, "", "empty template")
	}
	top := root.Content[0]
	if err := rewriteTags(top, file); err != nil {
		return nil, err
	}
	p := &parser{file: file}
	if top.Kind != yaml.MappingNode {
		return nil, errorf(p.pos(top), "", "template must be a mapping, found %s", kindName(top))
	}
	sections, err := p.pairs(top)
	if err != nil {
		return nil, err
	}
	doc := &document{file: file, conditions: map[string]*condition{}, globals: map[string]*globalSection{}}
	sawResources := false
	for _, s := range sections {
		v := deref(s.valNode)
		var err error
		switch s.key {
		case "AWSTemplateFormatVersion", "Description", "Metadata", "Rules", "Hooks":
		case "Transform":
			err = p.transform(doc, s)
		case "Parameters":
			err = p.parameters(doc, v)
		case "Mappings":
			if v.Kind != yaml.MappingNode {
				return nil, errorf(p.pos(v), "", "Mappings must be a mapping")
			}
			var m any
			m, err = p.value(v, nil, nil)
			doc.mappings, _ = m.(map[string]any)
		case "Conditions":
			err = p.conditions(doc, v)
		case "Globals":
			doc.globalsPos = p.pos(s.keyNode)
			err = p.globals(doc, v)
		case "Resources":
			sawResources = true
			err = p.resources(doc, v)
		case "Outputs":
			err = p.outputs(doc, v)
		default:
			return nil, errorf(p.pos(s.keyNode), "", "unknown template section %q", s.key)
		}
		if err != nil {
			return nil, err
		}
	}
	if !sawResources {
		return nil, errorf(p.pos(top), "", "template has no Resources section")
	}
	return doc, nil
}

func (p *parser) transform(doc *document, s pair) error {
	doc.transformPos = p.pos(s.keyNode)
	v, err := p.value(s.valNode, nil, nil)
	if err != nil {
		return err
	}
	names, ok := v.([]any)
	if !ok {
		names = []any{v}
	}
	for _, n := range names {
		name, ok := n.(string)
		if !ok {
			return errorf(doc.transformPos, "", "Transform must be a name or a list of names, found %s", describe(n))
		}
		doc.transforms = append(doc.transforms, name)
	}
	return nil
}

func (p *parser) mapping(n *yaml.Node, what string) ([]pair, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, errorf(p.pos(n), "", "%s must be a mapping, found %s", what, kindName(n))
	}
	return p.pairs(n)
}

func (p *parser) parameters(doc *document, n *yaml.Node) error {
	ps, err := p.mapping(n, "Parameters")
	if err != nil {
		return err
	}
	for _, e := range ps {
		if !isAlnum(e.key) {
			return errorf(p.pos(e.keyNode), "", "parameter name %q must be alphanumeric", e.key)
		}
		if deref(e.valNode).Kind != yaml.MappingNode {
			return errorf(p.pos(e.valNode), "", "parameter %s must be a mapping", e.key)
		}
		keys := posTable{}
		v, err := p.value(e.valNode, nil, keys)
		if err != nil {
			return err
		}
		doc.params = append(doc.params, &paramDecl{name: e.key, props: v.(map[string]any), keys: keys, at: p.pos(e.keyNode)})
	}
	return nil
}

func (p *parser) conditions(doc *document, n *yaml.Node) error {
	ps, err := p.mapping(n, "Conditions")
	if err != nil {
		return err
	}
	for _, e := range ps {
		v, err := p.value(e.valNode, nil, nil)
		if err != nil {
			return err
		}
		doc.conditions[e.key] = &condition{name: e.key, expr: v, at: p.pos(e.keyNode)}
	}
	return nil
}

func (p *parser) globals(doc *document, n *yaml.Node) error {
	ps, err := p.mapping(n, "Globals")
	if err != nil {
		return err
	}
	for _, e := range ps {
		if !knownGlobals[e.key] {
			return errorf(p.pos(e.keyNode), "", "Globals section %q is not supported; use one of Api, Function, HttpApi, LayerVersion, SimpleTable", e.key)
		}
		if deref(e.valNode).Kind != yaml.MappingNode {
			return errorf(p.pos(e.valNode), "", "Globals.%s must be a mapping", e.key)
		}
		pt := posTable{}
		v, err := p.value(e.valNode, nil, pt)
		if err != nil {
			return err
		}
		doc.globals[e.key] = &globalSection{props: v.(map[string]any), pos: pt, at: p.pos(e.keyNode)}
	}
	return nil
}

func (p *parser) resources(doc *document, n *yaml.Node) error {
	ps, err := p.mapping(n, "Resources")
	if err != nil {
		return err
	}
	for _, e := range ps {
		at := p.pos(e.keyNode)
		if !isAlnum(e.key) {
			return errorf(at, "", "logical ID %q must be alphanumeric", e.key)
		}
		body := deref(e.valNode)
		if body.Kind != yaml.MappingNode {
			return errorf(p.pos(body), e.key, "resource must be a mapping, found %s", kindName(body))
		}
		attrs, err := p.pairs(body)
		if err != nil {
			return err
		}
		r := &rawResource{id: e.key, at: at, props: map[string]any{}, pos: posTable{}}
		for _, a := range attrs {
			if !resourceAttributes[a.key] {
				return errorf(p.pos(a.keyNode), e.key, "unknown resource attribute %q", a.key)
			}
			v := deref(a.valNode)
			switch a.key {
			case "Type":
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || v.Value == "" {
					return errorf(p.pos(v), e.key, "Type must be a resource type name")
				}
				r.typ = v.Value
			case "Properties":
				if v.ShortTag() == "!!null" {
					continue
				}
				if v.Kind != yaml.MappingNode {
					return errorf(p.pos(v), e.key, "Properties must be a mapping, found %s", kindName(v))
				}
				props, err := p.value(v, nil, r.pos)
				if err != nil {
					return withResource(err, e.key)
				}
				m, ok := props.(map[string]any)
				if !ok {
					return errorf(p.pos(v), e.key, "Properties must be a mapping, found %s", describe(props))
				}
				r.props = m
			case "Metadata":
				m, err := p.value(v, nil, nil)
				if err != nil {
					return withResource(err, e.key)
				}
				if mm, ok := m.(map[string]any); ok {
					r.metadata = mm
				} else if m != nil {
					return errorf(p.pos(v), e.key, "Metadata must be a mapping")
				}
			case "DependsOn":
				r.dependsPos = p.pos(a.keyNode)
				d, err := p.value(v, nil, nil)
				if err != nil {
					return withResource(err, e.key)
				}
				list, ok := d.([]any)
				if !ok {
					list = []any{d}
				}
				for _, x := range list {
					s, ok := x.(string)
					if !ok {
						return errorf(r.dependsPos, e.key, "DependsOn must be a logical ID or a list of them")
					}
					r.dependsOn = append(r.dependsOn, s)
				}
			case "Condition":
				if v.Kind != yaml.ScalarNode {
					return errorf(p.pos(v), e.key, "Condition must be a condition name")
				}
				r.condition, r.condPos = v.Value, p.pos(v)
			}
		}
		if r.typ == "" {
			return errorf(at, e.key, "missing Type")
		}
		doc.resources = append(doc.resources, r)
	}
	return nil
}

// withResource attaches a logical ID to an error raised while converting
// that resource's values.
func withResource(err error, id string) error {
	var te *Error
	if errors.As(err, &te) && te.Resource == "" {
		te.Resource = id
	}
	return err
}

func (p *parser) outputs(doc *document, n *yaml.Node) error {
	ps, err := p.mapping(n, "Outputs")
	if err != nil {
		return err
	}
	for _, e := range ps {
		o := &outputDecl{name: e.key, at: p.pos(e.keyNode)}
		attrs, err := p.mapping(e.valNode, "output "+e.key)
		if err != nil {
			return err
		}
		hasValue := false
		for _, a := range attrs {
			v, err := p.value(a.valNode, nil, nil)
			if err != nil {
				return err
			}
			switch a.key {
			case "Value":
				o.value, hasValue = v, true
			case "Description":
				o.description = v
			case "Export":
				o.export = v
			case "Condition":
				s, ok := v.(string)
				if !ok {
					return errorf(p.pos(a.valNode), "", "output %s: Condition must be a condition name", e.key)
				}
				o.condition, o.condPos = s, p.pos(a.valNode)
			default:
				return errorf(p.pos(a.keyNode), "", "output %s: unknown key %q", e.key, a.key)
			}
		}
		if !hasValue {
			return errorf(o.at, "", "output %s has no Value", e.key)
		}
		doc.outputs = append(doc.outputs, o)
	}
	return nil
}
