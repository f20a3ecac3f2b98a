// Package template loads AWS SAM and CloudFormation templates into the
// CloudFormation-level model aloft runs.
//
// Loading parses YAML or JSON, rewrites the short-form tags (!Ref, !Sub…)
// to their long form, applies the SAM transform when the template asks for
// it, evaluates parameters, conditions and mappings, and resolves every
// intrinsic function, so the resulting Stack holds plain values. Functions
// gives the typed view of the Lambda functions. Errors are *Error values
// naming the file, line and resource. See docs/design/template.md.
package template

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Options controls how a template is loaded. The zero value loads with the
// defaults documented on each field.
type Options struct {
	// StackName is the stack's name (AWS::StackName); default "aloft".
	StackName string
	// Region is AWS::Region; default "us-east-1".
	Region string
	// AccountID is AWS::AccountId; default "000000000000".
	AccountID string
	// Parameters override the template's parameter values
	// (--parameter-overrides). Naming a parameter the template does not
	// declare is an error.
	Parameters map[string]string
}

func (o Options) withDefaults() Options {
	if o.StackName == "" {
		o.StackName = "aloft"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	return o
}

// Stack is a loaded template: CloudFormation-level resources after the SAM
// transform, with every intrinsic function resolved. A Stack is not
// modified after Load returns and may be read from several goroutines.
type Stack struct {
	Name      string
	Region    string
	AccountID string
	Partition string
	// Resources by logical ID. Resources whose Condition is false are
	// absent.
	Resources map[string]*Resource
	// Outputs in template order; outputs whose Condition is false are
	// absent.
	Outputs []Output
	// Warnings are one line each, sorted and without duplicates: things
	// that resolve to placeholders or are ignored.
	Warnings []string
}

// Resource is one CloudFormation resource.
type Resource struct {
	LogicalID string
	// Type is the CloudFormation type, e.g. AWS::Lambda::Function.
	Type string
	// Properties are fully resolved: string, int64, float64, bool, nil,
	// []any and map[string]any, with no intrinsic functions left.
	Properties map[string]any
	// Metadata is resolved like Properties. The SAM transform adds
	// MetaSAMEvent and MetaSAMProperties entries.
	Metadata  map[string]any
	DependsOn []string
	// PhysicalID is what Ref returns.
	PhysicalID string
	// Attrs are what Fn::GetAtt returns, e.g. "Arn". Attributes not listed
	// resolve to placeholders.
	Attrs map[string]string
	// FromSAM is the logical ID of the SAM resource this one was generated
	// from ("" when the template declares it directly).
	FromSAM string
	// Pos is where the resource (or the SAM resource or event it comes
	// from) is declared.
	Pos Pos

	propPos posTable // positions of property keys, for Functions' errors
}

// Output is one entry of the Outputs section, resolved to strings.
type Output struct {
	Name        string
	Description string
	// Value is the resolved value; a list is joined with ",".
	Value string
	// Export is Export.Name, "" when the output is not exported.
	Export string
	Pos    Pos
}

// Load reads and parses the template at path. Relative code paths resolve
// against the template's directory.
func Load(path string, opts Options) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	return Parse(path, data, filepath.Dir(abs), opts)
}

// Parse parses a template held in memory. filename is used in positions and
// errors; baseDir is the directory relative code paths resolve against
// (made absolute; "" means the working directory).
func Parse(filename string, data []byte, baseDir string, opts Options) (*Stack, error) {
	opts = opts.withDefaults()
	if baseDir == "" {
		baseDir = "."
	}
	baseDir, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	doc, err := parseDocument(filename, data)
	if err != nil {
		return nil, err
	}
	e, err := newEnv(doc, opts)
	if err != nil {
		return nil, err
	}
	static := newResolver(e, nil, nil, nil)
	if err := static.evalConditions(); err != nil {
		return nil, err
	}
	active, dropped, err := activeResources(doc, static)
	if err != nil {
		return nil, err
	}

	sam := false
	for _, tr := range doc.transforms {
		switch tr {
		case samTransform:
			sam = true
		case "AWS::LanguageExtensions":
			e.warn("transform AWS::LanguageExtensions is partly supported: Fn::Length, Fn::ToJsonString and FindInMap defaults work, Fn::ForEach does not")
		default:
			return nil, errorf(doc.transformPos, "", "transform %q is not supported", tr)
		}
	}
	var resources map[string]*rawResource
	var samRefs map[string]string
	if sam {
		resources, samRefs, err = transformSAM(doc, e, active)
		if err != nil {
			return nil, err
		}
	} else {
		if len(doc.globals) > 0 {
			return nil, errorf(doc.globalsPos, "", "Globals needs Transform: %s", samTransform)
		}
		resources = map[string]*rawResource{}
		for _, r := range active {
			if strings.HasPrefix(r.typ, "AWS::Serverless::") {
				return nil, errorf(r.at, r.id, "type %s needs Transform: %s", r.typ, samTransform)
			}
			resources[r.id] = r
		}
	}
	return newResolver(e, resources, dropped, samRefs).build(doc, baseDir)
}

func newResolver(e *env, res map[string]*rawResource, dropped, samRefs map[string]string) *resolver {
	return &resolver{env: e, res: res, dropped: dropped, samRefs: samRefs,
		ids: map[string]*identity{}, referenced: map[string]bool{}}
}

// activeResources drops the resources whose Condition is false.
func activeResources(doc *document, r *resolver) ([]*rawResource, map[string]string, error) {
	var out []*rawResource
	dropped := map[string]string{}
	for _, res := range doc.resources {
		if res.condition == "" {
			out = append(out, res)
			continue
		}
		ok, err := r.condition(res.condition, res.condPos, scope{res: res.id})
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out = append(out, res)
		} else {
			dropped[res.id] = res.condition
		}
	}
	return out, dropped, nil
}

// build resolves every resource and output into the Stack.
func (r *resolver) build(doc *document, baseDir string) (*Stack, error) {
	st := &Stack{Name: r.name, Region: r.region, AccountID: r.account, Partition: r.partition, Resources: map[string]*Resource{}}
	if err := r.checkDependsOn(); err != nil {
		return nil, err
	}
	ids := sortedKeys(r.res)
	for _, id := range ids {
		res := r.res[id]
		if _, err := r.identity(id, res.at, scope{res: res.user(), at: res.at}); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		res := r.res[id]
		sc := scope{res: res.user(), track: runTypes[res.typ], at: res.at}
		props, err := r.resolve(res.props, sc)
		if err != nil {
			return nil, err
		}
		out := &Resource{
			LogicalID: id, Type: res.typ, Properties: props.(map[string]any),
			DependsOn: res.dependsOn, PhysicalID: r.ids[id].ref, Attrs: r.ids[id].attrs,
			FromSAM: res.fromSAM, Pos: res.at, propPos: res.pos,
		}
		if res.metadata != nil {
			meta, err := r.resolve(res.metadata, scope{res: res.user(), at: res.at})
			if err != nil {
				return nil, err
			}
			out.Metadata = meta.(map[string]any)
		}
		r.localArtifacts(out, baseDir)
		st.Resources[id] = out
	}
	for _, o := range doc.outputs {
		out, ok, err := r.output(o)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Outputs = append(st.Outputs, out)
		}
	}
	for _, id := range ids {
		res := r.res[id]
		written := res.fromSAM == "" || res.fromSAM == id
		if !runTypes[res.typ] && (written || r.referenced[id]) {
			r.warn("resource %s (%s) is not run by aloft; references resolve to placeholders", id, res.typ)
		}
	}
	for w := range r.warnings {
		st.Warnings = append(st.Warnings, w)
	}
	sort.Strings(st.Warnings)
	return st, nil
}

// checkDependsOn rejects DependsOn entries naming no resource and cycles
// of DependsOn.
func (r *resolver) checkDependsOn() error {
	for _, id := range sortedKeys(r.res) {
		res := r.res[id]
		for _, d := range res.dependsOn {
			if _, ok := r.res[d]; ok {
				continue
			}
			if c, ok := r.dropped[d]; ok {
				return errorf(res.dependsPos, res.user(), "DependsOn: resource %q is not created because its condition %q is false", d, c)
			}
			return errorf(res.dependsPos, res.user(), "DependsOn: unknown resource %q", d)
		}
	}
	state := map[string]int{}
	var path []string
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case 1:
			i := len(path) - 1
			for path[i] != id {
				i--
			}
			res := r.res[id]
			return errorf(res.dependsPos, res.user(), "circular dependency: %s", strings.Join(append(path[i:], id), " -> "))
		case 2:
			return nil
		}
		state[id] = 1
		path = append(path, id)
		for _, d := range r.res[id].dependsOn {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[id] = 2
		return nil
	}
	for _, id := range sortedKeys(r.res) {
		if err := visit(id); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) output(o *outputDecl) (Output, bool, error) {
	sc := scope{label: "output " + o.name, track: true, at: o.at}
	if o.condition != "" {
		ok, err := r.condition(o.condition, o.condPos, sc)
		if err != nil || !ok {
			return Output{}, false, err
		}
	}
	out := Output{Name: o.name, Pos: o.at}
	v, err := r.resolve(o.value, sc)
	if err != nil {
		return out, false, err
	}
	if out.Value, err = r.outputString(v, sc, "Value"); err != nil {
		return out, false, err
	}
	if o.description != nil {
		d, err := r.resolve(o.description, sc)
		if err != nil {
			return out, false, err
		}
		if out.Description, err = r.outputString(d, sc, "Description"); err != nil {
			return out, false, err
		}
	}
	if o.export != nil {
		ex, err := r.resolve(o.export, sc)
		if err != nil {
			return out, false, err
		}
		m, ok := ex.(map[string]any)
		if !ok || m["Name"] == nil {
			return out, false, r.errf(sc, o.at, "Export must be a mapping with a Name")
		}
		if out.Export, err = r.outputString(m["Name"], sc, "Export.Name"); err != nil {
			return out, false, err
		}
	}
	return out, true, nil
}

func (r *resolver) outputString(v any, sc scope, what string) (string, error) {
	if s, ok := scalarString(v); ok {
		return s, nil
	}
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, e := range list {
			s, ok := scalarString(e)
			if !ok {
				return "", r.errf(sc, sc.at, "%s must be a string or a list of strings, found a list holding %s", what, describe(e))
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", r.errf(sc, sc.at, "%s must be a string or a list of strings, found %s", what, describe(v))
}

// localArtifacts makes local code and definition paths absolute (SAM CLI
// accepts a local path wherever CloudFormation wants an S3 location) and
// turns s3:// URIs into S3 locations.
func (r *resolver) localArtifacts(res *Resource, baseDir string) {
	prop, prefix := "", ""
	switch res.Type {
	case "AWS::Lambda::Function":
		prop, prefix = "Code", "S3"
	case "AWS::Lambda::LayerVersion":
		prop, prefix = "Content", "S3"
	case "AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api":
		prop = "BodyS3Location"
	case "AWS::StepFunctions::StateMachine":
		prop = "DefinitionS3Location"
	default:
		return
	}
	switch v := res.Properties[prop].(type) {
	case string:
		if rest, ok := strings.CutPrefix(v, "s3://"); ok {
			bucket, key, _ := strings.Cut(rest, "/")
			res.Properties[prop] = map[string]any{prefix + "Bucket": bucket, prefix + "Key": key}
		} else if v != "" {
			if !filepath.IsAbs(v) {
				v = filepath.Join(baseDir, v)
			}
			res.Properties[prop] = filepath.Clean(v)
			return
		}
	case map[string]any:
	default:
		return
	}
	if m, ok := res.Properties[prop].(map[string]any); ok && prefix != "" && m["S3Bucket"] != nil {
		b, _ := scalarString(m["S3Bucket"])
		k, _ := scalarString(m["S3Key"])
		r.warn("resource %s: its code is in S3 (s3://%s/%s); aloft only runs local code", res.LogicalID, b, k)
	}
}
