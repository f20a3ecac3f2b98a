package template

import (
	"sort"
	"strconv"
	"strings"
)

// samTransform is the Transform value that turns on the SAM transform.
const samTransform = "AWS::Serverless-2016-10-31"

// Metadata keys the SAM transform writes, so later stages can recover what
// the user wrote in SAM terms after the resources became CloudFormation.
const (
	// MetaSAMEvent is set on the main resource generated for each entry of
	// a function's Events (the EventSourceMapping, Rule, Subscription or
	// Schedule; the Permission for S3, Api and HttpApi events). Its value is
	// a map with "Function" (logical ID), "Name" (the event's name), "Type"
	// (e.g. "HttpApi"), "Properties" (the event's properties, resolved) and,
	// for Api and HttpApi events, "Api" (the logical ID of the API).
	MetaSAMEvent = "aloft:SamEvent"
	// MetaSAMProperties is set on the resource generated from an
	// AWS::Serverless::Api or AWS::Serverless::HttpApi (explicit or
	// implicit): the SAM properties after Globals, resolved, for the parts
	// (Auth, Cors, Domain…) that have no CloudFormation property here.
	MetaSAMProperties = "aloft:SamProperties"
)

// transformer applies the SAM transform: it consumes AWS::Serverless::*
// resources and produces the CloudFormation resources SAM would generate.
type transformer struct {
	env     *env
	static  *resolver // resolves what SAM itself resolves: parameters, mappings
	globals map[string]*globalSection
	in      map[string]*rawResource // the template's resources, conditions applied
	out     map[string]*rawResource
	samRefs map[string]string
	rest    map[string]*apiRoutes // API logical ID → routes from Api events
	http    map[string]*apiRoutes // API logical ID → routes from HttpApi events
}

type apiRoutes struct {
	routes []route
	from   string // first function to add a route: the implicit API's FromSAM
	at     Pos
}

// route is one Api or HttpApi event, to be written into an API's body.
type route struct {
	path, method string
	uri          any // the integration URI
	payload      any // HttpApi payloadFormatVersion
	fn, event    string
	at           Pos
}

// samHandlers lists the AWS::Serverless types the transform knows.
var samHandlers = map[string]func(*transformer, *rawResource) error{
	"AWS::Serverless::Function":     (*transformer).function,
	"AWS::Serverless::Api":          func(t *transformer, r *rawResource) error { return t.restAPI(r, false) },
	"AWS::Serverless::HttpApi":      func(t *transformer, r *rawResource) error { return t.httpAPI(r, false) },
	"AWS::Serverless::LayerVersion": (*transformer).layer,
	"AWS::Serverless::SimpleTable":  (*transformer).table,
	"AWS::Serverless::StateMachine": (*transformer).stateMachine,
	"AWS::Serverless::Application":  (*transformer).application,
	"AWS::Serverless::GraphQLApi":   (*transformer).graphQL,
	"AWS::Serverless::Connector":    (*transformer).connector,
}

// globalSections says which Globals section applies to which type.
var globalSections = map[string]string{
	"AWS::Serverless::Function":     "Function",
	"AWS::Serverless::Api":          "Api",
	"AWS::Serverless::HttpApi":      "HttpApi",
	"AWS::Serverless::SimpleTable":  "SimpleTable",
	"AWS::Serverless::LayerVersion": "LayerVersion",
}

// transformSAM runs the transform over the resources left after
// conditions. Functions go first: their events add routes to APIs and
// notifications to buckets.
func transformSAM(doc *document, e *env, resources []*rawResource) (map[string]*rawResource, map[string]string, error) {
	t := &transformer{
		env: e, static: newResolver(e, nil, nil, nil), globals: doc.globals,
		in: map[string]*rawResource{}, out: map[string]*rawResource{}, samRefs: map[string]string{},
		rest: map[string]*apiRoutes{}, http: map[string]*apiRoutes{},
	}
	var sam []*rawResource
	for _, r := range resources {
		t.in[r.id] = r
		if !strings.HasPrefix(r.typ, "AWS::Serverless::") {
			t.out[r.id] = r
			continue
		}
		if samHandlers[r.typ] == nil {
			return nil, nil, errorf(r.at, r.id, "unknown SAM resource type %s", r.typ)
		}
		t.applyGlobals(r)
		sam = append(sam, r)
	}
	order := func(r *rawResource) int {
		switch r.typ {
		case "AWS::Serverless::Function":
			return 0
		case "AWS::Serverless::Api", "AWS::Serverless::HttpApi":
			return 2
		}
		return 1
	}
	sort.Slice(sam, func(i, j int) bool {
		if oi, oj := order(sam[i]), order(sam[j]); oi != oj {
			return oi < oj
		}
		return sam[i].id < sam[j].id
	})
	for _, r := range sam {
		if err := samHandlers[r.typ](t, r); err != nil {
			return nil, nil, err
		}
	}
	if err := t.implicitAPIs(); err != nil {
		return nil, nil, err
	}
	return t.out, t.samRefs, nil
}

// derive starts a resource generated from the SAM resource from.
func (t *transformer) derive(from *rawResource, id, typ string, at Pos) *rawResource {
	return &rawResource{id: id, typ: typ, props: map[string]any{}, pos: posTable{}, fromSAM: from.user(), at: at}
}

// add puts a generated resource in the output; SAM refuses to overwrite a
// resource the template defines, and so does aloft.
func (t *transformer) add(r *rawResource) error {
	if old, ok := t.out[r.id]; ok {
		return errorf(r.at, r.fromSAM, "the SAM transform generates resource %s, which is already defined at %s", r.id, old.at)
	}
	t.out[r.id] = r
	return nil
}

// applyGlobals merges the matching Globals section into a SAM resource:
// maps merge key by key, lists are appended to, scalars are overridden.
func (t *transformer) applyGlobals(r *rawResource) {
	g := t.globals[globalSections[r.typ]]
	if g == nil {
		return
	}
	r.props = mergeGlobal(deepCopy(g.props), r.props).(map[string]any)
	pos := posTable{}
	g.pos.copyInto(pos)
	r.pos.copyInto(pos)
	r.pos = pos
}

func mergeGlobal(global, local any) any {
	switch l := local.(type) {
	case map[string]any:
		g, ok := global.(map[string]any)
		if !ok {
			return local
		}
		out := make(map[string]any, len(g)+len(l))
		for k, v := range g {
			out[k] = v
		}
		for k, v := range l {
			if gv, ok := out[k]; ok {
				out[k] = mergeGlobal(gv, v)
			} else {
				out[k] = v
			}
		}
		return out
	case []any:
		if g, ok := global.([]any); ok {
			return append(append([]any(nil), g...), l...)
		}
	}
	return local
}

// staticString resolves a property SAM needs as a plain string at transform
// time (an alias name, a path, a stage name): literals and parameter refs.
func (t *transformer) staticString(v any, r *rawResource, what string, path ...string) (string, error) {
	sc := scope{res: r.user(), at: r.pos.at(r.at, path...)}
	rv, err := t.static.resolve(v, sc)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(rv)
	if !ok {
		return "", errorf(sc.at, r.user(), "%s must be a string, found %s", what, describe(rv))
	}
	return s, nil
}

// copyProp copies one property and the positions recorded under it.
func copyProp(dst, src *rawResource, from, to string) {
	v, ok := src.props[from]
	if !ok {
		return
	}
	dst.props[to] = v
	copyPos(dst.pos, src.pos, []string{from}, []string{to})
}

func copyPos(dst, src posTable, from, to []string) {
	fk, tk := pathKey(from), pathKey(to)
	for k, p := range src {
		var rest string
		switch {
		case k == fk:
		case strings.HasPrefix(k, fk+"\x00"):
			rest = k[len(fk)+1:]
		default:
			continue
		}
		switch {
		case rest == "" && tk == "":
		case rest == "":
			dst[tk] = p
		case tk == "":
			dst[rest] = p
		default:
			dst[tk+"\x00"+rest] = p
		}
	}
}

// tagList turns a SAM Tags map into a CloudFormation tag list, after the
// tags SAM adds itself.
func tagList(v any, first ...map[string]any) []any {
	out := make([]any, 0, len(first))
	for _, f := range first {
		out = append(out, f)
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range sortedKeys(m) {
			out = append(out, map[string]any{"Key": k, "Value": m[k]})
		}
	}
	return out
}

// samCreatedBy is the tag SAM puts on functions and their roles.
func samCreatedBy() map[string]any { return map[string]any{"Key": "lambda:createdBy", "Value": "SAM"} }

// samOnlyFunctionProps are the AWS::Serverless::Function properties that
// are not AWS::Lambda::Function properties. Everything else passes through,
// so properties newer than this list still reach the function.
var samOnlyFunctionProps = map[string]bool{
	"CodeUri": true, "InlineCode": true, "ImageUri": true, "Policies": true, "Events": true,
	"AutoPublishAlias": true, "AutoPublishCodeSha256": true, "AutoPublishAliasAllProperties": true,
	"VersionDescription": true, "ProvisionedConcurrencyConfig": true, "DeploymentPreference": true,
	"Tracing": true, "DeadLetterQueue": true, "EventInvokeConfig": true, "FunctionUrlConfig": true,
	"PermissionsBoundary": true, "RolePath": true, "AssumeRolePolicyDocument": true,
	"PropagateTags": true, "Tags": true, "VersionDeletionPolicy": true,
}

// function is one AWS::Serverless::Function's worth of the transform.
func (t *transformer) function(sam *rawResource) error {
	id, p := sam.id, sam.props
	f := t.derive(sam, id, "AWS::Lambda::Function", sam.at)
	f.dependsOn, f.dependsPos, f.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	for k := range p {
		if !samOnlyFunctionProps[k] {
			copyProp(f, sam, k, k)
		}
	}

	packageType := "Zip"
	if v, ok := p["PackageType"]; ok {
		s, err := t.staticString(v, sam, "PackageType", "PackageType")
		if err != nil {
			return err
		}
		packageType = s
	}
	switch {
	case packageType == "Image":
		if v, ok := p["ImageUri"]; ok {
			f.props["Code"] = map[string]any{"ImageUri": v}
			copyPos(f.pos, sam.pos, []string{"ImageUri"}, []string{"Code"})
		}
	case p["InlineCode"] != nil:
		f.props["Code"] = map[string]any{"ZipFile": p["InlineCode"]}
		copyPos(f.pos, sam.pos, []string{"InlineCode"}, []string{"Code"})
	case p["CodeUri"] != nil:
		code := p["CodeUri"]
		if m, ok := code.(map[string]any); ok {
			code = s3Location(m, "S3")
		}
		f.props["Code"] = code
		copyPos(f.pos, sam.pos, []string{"CodeUri"}, []string{"Code"})
	default:
		// SAM CLI runs a function without CodeUri from the template's folder.
		f.props["Code"] = "."
	}
	f.props["Tags"] = tagList(p["Tags"], samCreatedBy())
	if v, ok := p["Tracing"]; ok {
		f.props["TracingConfig"] = map[string]any{"Mode": v}
	}
	if v, ok := p["DeadLetterQueue"]; ok {
		dlq, ok := v.(map[string]any)
		if !ok || dlq["TargetArn"] == nil || (dlq["Type"] != "SQS" && dlq["Type"] != "SNS") {
			return errorf(sam.pos.at(sam.at, "DeadLetterQueue"), id, "DeadLetterQueue needs Type (SQS or SNS) and TargetArn")
		}
		f.props["DeadLetterConfig"] = map[string]any{"TargetArn": dlq["TargetArn"]}
	}
	if _, ok := p["DeploymentPreference"]; ok {
		t.env.warn("resource %s: DeploymentPreference (gradual deployment through CodeDeploy) is ignored by aloft", id)
	}
	if err := t.add(f); err != nil {
		return err
	}

	var role *rawResource
	if _, ok := p["Role"]; !ok {
		role = t.functionRole(sam)
		if err := t.add(role); err != nil {
			return err
		}
		f.props["Role"] = getAtt(role.id, "Arn", sam.at)
	}

	// Event sources invoke the alias when there is one, as SAM wires them.
	inv := invoker{name: ref(id, sam.at), arn: getAtt(id, "Arn", sam.at), short: id + ".Arn"}
	aliasName := ""
	if v, ok := p["AutoPublishAlias"]; ok {
		alias, err := t.alias(sam, f, v)
		if err != nil {
			return err
		}
		aliasName = alias.props["Name"].(string)
		inv = invoker{name: ref(alias.id, sam.at), arn: ref(alias.id, sam.at), short: alias.id, alias: alias.id}
	} else if _, ok := p["ProvisionedConcurrencyConfig"]; ok {
		return errorf(sam.pos.at(sam.at, "ProvisionedConcurrencyConfig"), id, "ProvisionedConcurrencyConfig needs AutoPublishAlias")
	}
	if v, ok := p["FunctionUrlConfig"]; ok {
		if err := t.functionURL(sam, v, inv); err != nil {
			return err
		}
	}
	if v, ok := p["EventInvokeConfig"]; ok {
		if err := t.eventInvokeConfig(sam, v, aliasName, inv); err != nil {
			return err
		}
	}
	if v, ok := p["Events"]; ok {
		events, ok := v.(map[string]any)
		if !ok {
			return errorf(sam.pos.at(sam.at, "Events"), id, "Events must be a mapping")
		}
		for _, name := range sortedKeys(events) {
			if err := t.event(sam, name, events[name], inv, role); err != nil {
				return err
			}
		}
	}
	return nil
}

// invoker is how generated resources refer to the function: the function
// itself, or its alias when AutoPublishAlias is set.
type invoker struct {
	name  any    // for FunctionName properties
	arn   any    // for targets that need an ARN
	short string // the same ARN as a Fn::Sub variable
	alias string // alias logical ID, "" without one
}

// functionRole builds <Fn>Role, the execution role SAM generates.
func (t *transformer) functionRole(sam *rawResource) *rawResource {
	p := sam.props
	role := t.derive(sam, sam.id+"Role", "AWS::IAM::Role", sam.at)
	assume := p["AssumeRolePolicyDocument"]
	if assume == nil {
		assume = assumeRole("lambda.amazonaws.com")
	}
	managed := []any{t.managedPolicy("service-role/AWSLambdaBasicExecutionRole")}
	if p["Tracing"] != nil {
		managed = append(managed, t.managedPolicy("AWSXrayWriteOnlyAccess"))
	}
	if p["VpcConfig"] != nil {
		managed = append(managed, t.managedPolicy("service-role/AWSLambdaVPCAccessExecutionRole"))
	}
	var inline, templates []any
	policies, ok := p["Policies"].([]any)
	if !ok && p["Policies"] != nil {
		policies = []any{p["Policies"]}
	}
	for i, pol := range policies {
		switch x := pol.(type) {
		case string:
			if !strings.HasPrefix(x, "arn:") {
				x = "arn:" + t.env.partition + ":iam::aws:policy/" + x
			}
			managed = append(managed, x)
		case map[string]any:
			if _, ok := x["Statement"]; ok {
				inline = append(inline, map[string]any{"PolicyName": sam.id + "RolePolicy" + strconv.Itoa(i), "PolicyDocument": x})
			} else {
				// SAM policy templates (S3ReadPolicy: …) are recorded, not
				// expanded: the role is never created.
				templates = append(templates, x)
			}
		default:
			managed = append(managed, x) // an intrinsic naming a policy ARN
		}
	}
	role.props["AssumeRolePolicyDocument"] = assume
	role.props["ManagedPolicyArns"] = managed
	if len(inline) > 0 {
		role.props["Policies"] = inline
	}
	if len(templates) > 0 {
		role.metadata = map[string]any{"aloft:SamPolicyTemplates": templates}
	}
	role.props["Tags"] = tagList(p["Tags"], samCreatedBy())
	copyProp(role, sam, "PermissionsBoundary", "PermissionsBoundary")
	copyProp(role, sam, "RolePath", "Path")
	return role
}

func (t *transformer) managedPolicy(name string) string {
	return "arn:" + t.env.partition + ":iam::aws:policy/" + name
}

// addManagedPolicy adds a managed policy to a generated role once.
func addManagedPolicy(role *rawResource, arn string) {
	if role == nil {
		return
	}
	list, _ := role.props["ManagedPolicyArns"].([]any)
	for _, x := range list {
		if x == arn {
			return
		}
	}
	role.props["ManagedPolicyArns"] = append(list, arn)
}

func assumeRole(service string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Action":    []any{"sts:AssumeRole"},
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": []any{service}},
		}},
	}
}

// alias builds <Fn>Version<hash> and <Fn>Alias<Name>. The version's hash
// covers what SAM hashes (code, environment, memory) so it changes when they
// do.
func (t *transformer) alias(sam *rawResource, f *rawResource, v any) (*rawResource, error) {
	name, err := t.staticString(v, sam, "AutoPublishAlias", "AutoPublishAlias")
	if err != nil {
		return nil, err
	}
	if !isAlnum(name) {
		return nil, errorf(sam.pos.at(sam.at, "AutoPublishAlias"), sam.id, "AutoPublishAlias %q must be alphanumeric", name)
	}
	sha := ""
	if v, ok := sam.props["AutoPublishCodeSha256"]; ok {
		if sha, err = t.staticString(v, sam, "AutoPublishCodeSha256", "AutoPublishCodeSha256"); err != nil {
			return nil, err
		}
	}
	hashed, err := t.static.resolve(map[string]any{
		"Code": f.props["Code"], "Environment": f.props["Environment"], "MemorySize": f.props["MemorySize"],
	}, scope{res: sam.id, at: sam.at})
	if err != nil {
		hashed = map[string]any{"Code": f.props["Code"]} // refers to resources: hash it as written
	}
	version := t.derive(sam, sam.id+"Version"+hexHash(canonical(hashed), sha)[:10], "AWS::Lambda::Version", sam.at)
	version.props["FunctionName"] = ref(sam.id, sam.at)
	copyProp(version, sam, "VersionDescription", "Description")
	alias := t.derive(sam, sam.id+"Alias"+name, "AWS::Lambda::Alias", sam.at)
	alias.props["Name"] = name
	alias.props["FunctionName"] = ref(sam.id, sam.at)
	alias.props["FunctionVersion"] = getAtt(version.id, "Version", sam.at)
	copyProp(alias, sam, "ProvisionedConcurrencyConfig", "ProvisionedConcurrencyConfig")
	t.samRefs[sam.id+".Version"] = version.id
	t.samRefs[sam.id+".Alias"] = alias.id
	if err := t.add(version); err != nil {
		return nil, err
	}
	return alias, t.add(alias)
}

// functionURL builds <Fn>Url and, for public URLs, <Fn>UrlPublicPermissions.
func (t *transformer) functionURL(sam *rawResource, v any, inv invoker) error {
	at := sam.pos.at(sam.at, "FunctionUrlConfig")
	cfg, ok := v.(map[string]any)
	if !ok {
		return errorf(at, sam.id, "FunctionUrlConfig must be a mapping")
	}
	if cfg["AuthType"] == nil {
		return errorf(at, sam.id, "FunctionUrlConfig needs AuthType (AWS_IAM or NONE)")
	}
	url := t.derive(sam, sam.id+"Url", "AWS::Lambda::Url", at)
	for _, k := range sortedKeys(cfg) {
		url.props[k] = cfg[k]
	}
	url.props["TargetFunctionArn"] = inv.name
	if err := t.add(url); err != nil {
		return err
	}
	auth, err := t.staticString(cfg["AuthType"], sam, "FunctionUrlConfig.AuthType", "FunctionUrlConfig", "AuthType")
	if err != nil || auth != "NONE" {
		return nil // an AuthType only known at deploy time gets no public permission, as in SAM
	}
	perm := t.derive(sam, sam.id+"UrlPublicPermissions", "AWS::Lambda::Permission", at)
	perm.props = map[string]any{
		"Action": "lambda:InvokeFunctionUrl", "FunctionName": inv.name,
		"FunctionUrlAuthType": "NONE", "Principal": "*",
	}
	return t.add(perm)
}

// eventInvokeConfig builds <Fn>EventInvokeConfig, creating the queue or
// topic SAM creates for a destination given only by Type.
func (t *transformer) eventInvokeConfig(sam *rawResource, v any, aliasName string, inv invoker) error {
	at := sam.pos.at(sam.at, "EventInvokeConfig")
	cfg, ok := v.(map[string]any)
	if !ok {
		return errorf(at, sam.id, "EventInvokeConfig must be a mapping")
	}
	id := sam.id + "EventInvokeConfig"
	eic := t.derive(sam, id, "AWS::Lambda::EventInvokeConfig", at)
	eic.props["FunctionName"] = ref(sam.id, at)
	eic.props["Qualifier"] = "$LATEST"
	if aliasName != "" {
		eic.props["Qualifier"] = aliasName
		eic.dependsOn = []string{inv.alias}
	}
	for _, k := range []string{"MaximumEventAgeInSeconds", "MaximumRetryAttempts"} {
		if v, ok := cfg[k]; ok {
			eic.props[k] = v
		}
	}
	if dc, ok := cfg["DestinationConfig"].(map[string]any); ok {
		out := map[string]any{}
		for _, which := range []string{"OnSuccess", "OnFailure"} {
			d, ok := dc[which].(map[string]any)
			if !ok {
				continue
			}
			dest := d["Destination"]
			typ, _ := d["Type"].(string)
			if dest == nil {
				switch typ {
				case "SQS":
					q := t.derive(sam, id+which+"Queue", "AWS::SQS::Queue", at)
					if err := t.add(q); err != nil {
						return err
					}
					t.samRefs[sam.id+".DestinationQueue"] = q.id
					dest = getAtt(q.id, "Arn", at)
				case "SNS":
					topic := t.derive(sam, id+which+"Topic", "AWS::SNS::Topic", at)
					if err := t.add(topic); err != nil {
						return err
					}
					t.samRefs[sam.id+".DestinationTopic"] = topic.id
					dest = ref(topic.id, at)
				default:
					return errorf(at, sam.id, "EventInvokeConfig.DestinationConfig.%s needs a Destination unless Type is SQS or SNS", which)
				}
			}
			out[which] = map[string]any{"Destination": dest}
		}
		eic.props["DestinationConfig"] = out
	}
	return t.add(eic)
}

// s3Location converts SAM's {Bucket, Key, Version} into CloudFormation's
// {S3Bucket, S3Key, S3ObjectVersion} (prefix "S3") or {Bucket, Key, Version}
// (prefix "").
func s3Location(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "Bucket", "Key":
			out[prefix+k] = v
		case "Version":
			if prefix != "" {
				out[prefix+"ObjectVersion"] = v
			} else {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	return out
}
