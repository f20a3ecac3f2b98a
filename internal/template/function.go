package template

import (
	"math"
	"strconv"
	"strings"
)

// Function is the typed view of an AWS::Lambda::Function resource, with
// Lambda's defaults filled in.
type Function struct {
	LogicalID string
	// Name is FunctionName if set, else the logical ID (SAM CLI's local
	// behaviour).
	Name string
	// ARN is arn:{partition}:lambda:{region}:{account}:function:{Name}.
	ARN     string
	Runtime string
	Handler string
	// CodePath is the absolute local path of the code (a directory, a zip
	// or a file); "" for inline, image or S3 code.
	CodePath string
	// InlineCode is Code.ZipFile (SAM's InlineCode); "" otherwise.
	InlineCode string
	// PackageType is "Zip" (the default) or "Image".
	PackageType string
	ImageURI    string
	// MemorySize in MB; default 128.
	MemorySize int
	// Timeout in seconds; default 3.
	Timeout     int
	Environment map[string]string
	// ReservedConcurrency is ReservedConcurrentExecutions; nil when unset.
	ReservedConcurrency *int
	// Architectures default to ["x86_64"].
	Architectures []string
	// Layers are layer ARNs, or the logical IDs of layers the template
	// declares.
	Layers []string
	// BuildMethod and BuildProperties come from the resource's Metadata, as
	// sam build reads them.
	BuildMethod     string
	BuildProperties map[string]any
	Description     string
	Pos             Pos
}

// Functions returns the typed view of every AWS::Lambda::Function, sorted
// by logical ID. Numbers given as strings ("30") are accepted; a value of
// the wrong kind is an *Error naming the property.
func (s *Stack) Functions() ([]Function, error) {
	layers := s.localLayers()
	var out []Function
	for _, id := range sortedKeys(s.Resources) {
		r := s.Resources[id]
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		f, err := r.function(layers)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Function returns the function with the given logical ID or, failing
// that, the given function name. A function whose properties are invalid
// is not found; Functions reports why.
func (s *Stack) Function(nameOrLogicalID string) (Function, bool) {
	layers := s.localLayers()
	if r, ok := s.Resources[nameOrLogicalID]; ok && r.Type == "AWS::Lambda::Function" {
		f, err := r.function(layers)
		return f, err == nil
	}
	for _, id := range sortedKeys(s.Resources) {
		r := s.Resources[id]
		if r.Type == "AWS::Lambda::Function" && r.PhysicalID == nameOrLogicalID {
			f, err := r.function(layers)
			return f, err == nil
		}
	}
	return Function{}, false
}

// localLayers maps the ARN of each layer the template declares to its
// logical ID.
func (s *Stack) localLayers() map[string]string {
	out := map[string]string{}
	for id, r := range s.Resources {
		if r.Type == "AWS::Lambda::LayerVersion" {
			out[r.PhysicalID] = id
		}
	}
	return out
}

func (r *Resource) errorf(prop, format string, args ...any) error {
	e := errorf(r.propPos.at(r.Pos, strings.Split(prop, ".")...), r.LogicalID, format, args...)
	e.Msg = prop + ": " + e.Msg
	return e
}

func (r *Resource) function(layers map[string]string) (Function, error) {
	p := r.Properties
	f := Function{
		LogicalID: r.LogicalID, Name: r.PhysicalID, ARN: r.Attrs["Arn"], Pos: r.Pos,
		PackageType: "Zip", MemorySize: 128, Timeout: 3, Architectures: []string{"x86_64"},
	}
	var err error
	for _, x := range []struct {
		prop string
		dst  *string
	}{{"Runtime", &f.Runtime}, {"Handler", &f.Handler}, {"Description", &f.Description}, {"PackageType", &f.PackageType}} {
		if v, ok := p[x.prop]; ok {
			if *x.dst, err = r.stringProp(x.prop, v); err != nil {
				return f, err
			}
		}
	}
	switch c := p["Code"].(type) {
	case string:
		f.CodePath = c
	case map[string]any:
		if v, ok := c["ZipFile"]; ok {
			if f.InlineCode, err = r.stringProp("Code.ZipFile", v); err != nil {
				return f, err
			}
		}
		if v, ok := c["ImageUri"]; ok {
			if f.ImageURI, err = r.stringProp("Code.ImageUri", v); err != nil {
				return f, err
			}
		}
	}
	for _, x := range []struct {
		prop string
		dst  *int
	}{{"MemorySize", &f.MemorySize}, {"Timeout", &f.Timeout}} {
		if v, ok := p[x.prop]; ok {
			if *x.dst, err = r.intProp(x.prop, v); err != nil {
				return f, err
			}
		}
	}
	if v, ok := p["ReservedConcurrentExecutions"]; ok {
		n, err := r.intProp("ReservedConcurrentExecutions", v)
		if err != nil {
			return f, err
		}
		f.ReservedConcurrency = &n
	}
	if env, ok := p["Environment"].(map[string]any); ok {
		if vars, ok := env["Variables"].(map[string]any); ok {
			f.Environment = make(map[string]string, len(vars))
			for _, k := range sortedKeys(vars) {
				if f.Environment[k], err = r.stringProp("Environment.Variables."+k, vars[k]); err != nil {
					return f, err
				}
			}
		} else if env["Variables"] != nil {
			return f, r.errorf("Environment.Variables", "must be a mapping, found %s", describe(env["Variables"]))
		}
	}
	if v, ok := p["Architectures"]; ok {
		if f.Architectures, err = r.stringList("Architectures", v); err != nil {
			return f, err
		}
	}
	if v, ok := p["Layers"]; ok {
		if f.Layers, err = r.stringList("Layers", v); err != nil {
			return f, err
		}
		for i, l := range f.Layers {
			if id, ok := layers[l]; ok {
				f.Layers[i] = id
			}
		}
	}
	if v, ok := r.Metadata["BuildMethod"]; ok {
		if f.BuildMethod, err = r.stringProp("Metadata.BuildMethod", v); err != nil {
			return f, err
		}
	}
	if v, ok := r.Metadata["BuildProperties"].(map[string]any); ok {
		f.BuildProperties = v
	}
	return f, nil
}

func (r *Resource) stringProp(prop string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", r.errorf(prop, "must be a string, found %s", describe(v))
	}
	return s, nil
}

func (r *Resource) intProp(prop string, v any) (int, error) {
	switch x := v.(type) {
	case int64:
		return int(x), nil
	case float64:
		if x == math.Trunc(x) {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, nil
		}
	}
	return 0, r.errorf(prop, "must be a whole number, found %s", describe(v))
}

func (r *Resource) stringList(prop string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, r.errorf(prop, "must be a list of strings, found %s", describe(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := scalarString(e)
		if !ok {
			return nil, r.errorf(prop, "must be a list of strings, found an element that is %s", describe(e))
		}
		out[i] = s
	}
	return out, nil
}
