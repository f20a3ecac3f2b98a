package template

import (
	"strings"
)

// This file holds the SAM resources other than functions: APIs (explicit
// and implicit), layers, tables, state machines and the few SAM types aloft
// only carries along.

// restAPI turns an AWS::Serverless::Api into a RestApi, a Deployment and a
// Stage. The implicit ServerlessRestApi goes through here too, with the
// routes of every Api event that names no RestApiId.
func (t *transformer) restAPI(sam *rawResource, implicit bool) error {
	id, p := sam.id, sam.props
	stageV, ok := p["StageName"]
	if !ok {
		return errorf(sam.at, id, "StageName is required")
	}
	stage, err := t.staticString(stageV, sam, "StageName", "StageName")
	if err != nil {
		return err
	}
	api := t.apiResource(sam, "AWS::ApiGateway::RestApi")
	routes := t.rest[id]
	switch {
	case !implicit && p["DefinitionBody"] != nil:
		// SAM leaves an explicit REST API's own definition alone.
		api.props["Body"] = p["DefinitionBody"]
	case !implicit && p["DefinitionUri"] != nil:
		api.props["BodyS3Location"] = definitionURI(p["DefinitionUri"])
	default:
		api.props["Body"] = apiBody(routes, p, false, sam.at)
	}
	for _, k := range []string{"Name", "Description", "BinaryMediaTypes", "MinimumCompressionSize",
		"DisableExecuteApiEndpoint", "ApiKeySourceType", "FailOnWarnings", "Mode"} {
		copyProp(api, sam, k, k)
	}
	switch ec := p["EndpointConfiguration"].(type) {
	case nil:
	case map[string]any:
		out := map[string]any{}
		if v, ok := ec["Type"]; ok {
			out["Types"] = []any{v}
		}
		if v, ok := ec["VPCEndpointIds"]; ok {
			out["VpcEndpointIds"] = v
		}
		api.props["EndpointConfiguration"] = out
	default:
		api.props["EndpointConfiguration"] = map[string]any{"Types": []any{ec}}
	}
	if err := t.add(api); err != nil {
		return err
	}

	h := hexHash(canonical(api.props["Body"]), canonical(api.props["BodyS3Location"]), stage)
	dep := t.derive(sam, id+"Deployment"+h[:10], "AWS::ApiGateway::Deployment", sam.at)
	dep.props = map[string]any{
		"RestApiId":   ref(id, sam.at),
		"Description": "RestApi deployment id: " + h[:40],
		"StageName":   "Stage",
	}
	stg := t.derive(sam, id+alnum(stage)+"Stage", "AWS::ApiGateway::Stage", sam.at)
	stg.props = map[string]any{"DeploymentId": ref(dep.id, sam.at), "RestApiId": ref(id, sam.at), "StageName": stageV}
	for _, k := range []string{"Variables", "MethodSettings", "TracingEnabled", "CacheClusterEnabled",
		"CacheClusterSize", "AccessLogSetting", "CanarySetting"} {
		copyProp(stg, sam, k, k)
	}
	if p["Tags"] != nil {
		stg.props["Tags"] = tagList(p["Tags"])
	}
	t.samRefs[id+".Stage"] = stg.id
	t.samRefs[id+".Deployment"] = dep.id
	if err := t.add(dep); err != nil {
		return err
	}
	return t.add(stg)
}

// httpAPI turns an AWS::Serverless::HttpApi into an ApiGatewayV2 Api and
// Stage. The implicit ServerlessHttpApi goes through here too.
func (t *transformer) httpAPI(sam *rawResource, implicit bool) error {
	id, p := sam.id, sam.props
	api := t.apiResource(sam, "AWS::ApiGatewayV2::Api")
	routes := t.http[id]
	switch {
	case !implicit && p["DefinitionBody"] != nil:
		// SAM adds the events' integrations to an HTTP API's own definition.
		body := deepCopy(p["DefinitionBody"])
		if m, ok := body.(map[string]any); ok {
			addPaths(m, routes, true)
		}
		api.props["Body"] = body
	case !implicit && p["DefinitionUri"] != nil:
		api.props["BodyS3Location"] = definitionURI(p["DefinitionUri"])
	default:
		api.props["Body"] = apiBody(routes, p, true, sam.at)
	}
	for _, k := range []string{"Description", "DisableExecuteApiEndpoint", "FailOnWarnings"} {
		copyProp(api, sam, k, k)
	}
	switch c := p["CorsConfiguration"].(type) {
	case nil:
	case bool:
		if c {
			api.props["CorsConfiguration"] = map[string]any{
				"AllowOrigins": []any{"*"}, "AllowHeaders": []any{"*"}, "AllowMethods": []any{"*"},
			}
		}
	default:
		api.props["CorsConfiguration"] = c
	}
	if err := t.add(api); err != nil {
		return err
	}

	stageV, hasStage := p["StageName"]
	stage := "$default"
	if hasStage {
		s, err := t.staticString(stageV, sam, "StageName", "StageName")
		if err != nil {
			return err
		}
		stage = s
	} else {
		stageV = stage
	}
	stgID := id + alnum(stage) + "Stage"
	if stage == "$default" {
		stgID = id + "ApiGatewayDefaultStage"
	}
	stg := t.derive(sam, stgID, "AWS::ApiGatewayV2::Stage", sam.at)
	tags := map[string]any{"httpapi:createdBy": "SAM"}
	if m, ok := p["Tags"].(map[string]any); ok {
		for k, v := range m {
			tags[k] = v
		}
	}
	stg.props = map[string]any{"ApiId": ref(id, sam.at), "StageName": stageV, "AutoDeploy": true, "Tags": tags}
	for _, k := range []string{"StageVariables", "AccessLogSettings", "DefaultRouteSettings", "RouteSettings"} {
		copyProp(stg, sam, k, k)
	}
	t.samRefs[id+".Stage"] = stg.id
	return t.add(stg)
}

// apiResource starts the RestApi or V2 Api for a SAM API, keeping the SAM
// properties in its metadata.
func (t *transformer) apiResource(sam *rawResource, typ string) *rawResource {
	api := t.derive(sam, sam.id, typ, sam.at)
	api.dependsOn, api.dependsPos = sam.dependsOn, sam.dependsPos
	api.metadata = map[string]any{}
	for k, v := range sam.metadata {
		api.metadata[k] = v
	}
	api.metadata[MetaSAMProperties] = deepCopy(sam.props)
	return api
}

// apiBody generates the OpenAPI definition SAM generates for an API it
// manages: info, and one path entry per route with a Lambda proxy
// integration.
func apiBody(a *apiRoutes, p map[string]any, http bool, at Pos) map[string]any {
	var title any = ref("AWS::StackName", at)
	if n := p["Name"]; n != nil && http {
		title = n
	}
	body := map[string]any{"info": map[string]any{"version": "1.0", "title": title}, "paths": map[string]any{}}
	switch v, _ := scalarString(p["OpenApiVersion"]); {
	case http:
		body["openapi"] = "3.0.1"
		body["tags"] = []any{map[string]any{"name": "httpapi:createdBy", "x-amazon-apigateway-tag-value": "SAM"}}
	case strings.HasPrefix(v, "3"):
		body["openapi"] = "3.0.1"
	default:
		body["swagger"] = "2.0"
	}
	addPaths(body, a, http)
	return body
}

func addPaths(body map[string]any, a *apiRoutes, http bool) {
	if a == nil {
		return
	}
	paths, _ := body["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
		body["paths"] = paths
	}
	for _, r := range a.routes {
		integ := map[string]any{"type": "aws_proxy", "httpMethod": "POST", "uri": r.uri}
		if http {
			integ["payloadFormatVersion"] = r.payload
		}
		ops, _ := paths[r.path].(map[string]any)
		if ops == nil {
			ops = map[string]any{}
			paths[r.path] = ops
		}
		ops[methodKey(r.method)] = map[string]any{"x-amazon-apigateway-integration": integ, "responses": map[string]any{}}
	}
}

// definitionURI keeps a local path as it is (made absolute after
// resolution) and converts an S3 location to CloudFormation's shape.
func definitionURI(v any) any {
	if m, ok := v.(map[string]any); ok {
		return s3Location(m, "")
	}
	return v
}

// implicitAPIs creates ServerlessRestApi and ServerlessHttpApi when events
// need them, as SAM's implicit API plugin does, with Globals applied.
func (t *transformer) implicitAPIs() error {
	if a := t.rest["ServerlessRestApi"]; a != nil {
		sam := &rawResource{id: "ServerlessRestApi", typ: "AWS::Serverless::Api", props: map[string]any{}, pos: posTable{}, fromSAM: a.from, at: a.at}
		t.applyGlobals(sam)
		sam.props["StageName"] = "Prod"
		if err := t.restAPI(sam, true); err != nil {
			return err
		}
	}
	if a := t.http["ServerlessHttpApi"]; a != nil {
		sam := &rawResource{id: "ServerlessHttpApi", typ: "AWS::Serverless::HttpApi", props: map[string]any{}, pos: posTable{}, fromSAM: a.from, at: a.at}
		t.applyGlobals(sam)
		if err := t.httpAPI(sam, true); err != nil {
			return err
		}
	}
	return nil
}

// layer turns an AWS::Serverless::LayerVersion into an
// AWS::Lambda::LayerVersion. SAM renames the layer with a content hash so
// old versions can be retained; aloft keeps the logical ID, so the
// function's Layers still name it.
func (t *transformer) layer(sam *rawResource) error {
	l := t.derive(sam, sam.id, "AWS::Lambda::LayerVersion", sam.at)
	l.dependsOn, l.dependsPos, l.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	content, ok := sam.props["ContentUri"]
	if !ok {
		return errorf(sam.at, sam.id, "ContentUri is required")
	}
	if m, ok := content.(map[string]any); ok {
		content = s3Location(m, "S3")
	}
	l.props["Content"] = content
	copyPos(l.pos, sam.pos, []string{"ContentUri"}, []string{"Content"})
	l.props["LayerName"] = sam.id
	for _, k := range []string{"LayerName", "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"} {
		copyProp(l, sam, k, k)
	}
	return t.add(l)
}

// table turns an AWS::Serverless::SimpleTable into an AWS::DynamoDB::Table
// with a single hash key.
func (t *transformer) table(sam *rawResource) error {
	p := sam.props
	tbl := t.derive(sam, sam.id, "AWS::DynamoDB::Table", sam.at)
	tbl.dependsOn, tbl.dependsPos, tbl.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	var name, typ any = "id", "String"
	if pk, ok := p["PrimaryKey"].(map[string]any); ok {
		name, typ = pk["Name"], pk["Type"]
	}
	attrType := map[any]string{"String": "S", "Number": "N", "Binary": "B"}[typ]
	if attrType == "" || name == nil {
		return errorf(sam.pos.at(sam.at, "PrimaryKey"), sam.id, "PrimaryKey needs a Name and a Type of String, Number or Binary")
	}
	tbl.props["AttributeDefinitions"] = []any{map[string]any{"AttributeName": name, "AttributeType": attrType}}
	tbl.props["KeySchema"] = []any{map[string]any{"AttributeName": name, "KeyType": "HASH"}}
	if _, ok := p["ProvisionedThroughput"]; ok {
		copyProp(tbl, sam, "ProvisionedThroughput", "ProvisionedThroughput")
	} else {
		tbl.props["BillingMode"] = "PAY_PER_REQUEST"
	}
	for _, k := range []string{"TableName", "SSESpecification", "PointInTimeRecoverySpecification"} {
		copyProp(tbl, sam, k, k)
	}
	if m, ok := p["Tags"].(map[string]any); ok && len(m) > 0 {
		tbl.props["Tags"] = tagList(m)
	}
	return t.add(tbl)
}

// stateMachine carries an AWS::Serverless::StateMachine as an
// AWS::StepFunctions::StateMachine. aloft does not run it, so references to
// it resolve to placeholders and a warning says so.
func (t *transformer) stateMachine(sam *rawResource) error {
	p := sam.props
	sm := t.derive(sam, sam.id, "AWS::StepFunctions::StateMachine", sam.at)
	sm.dependsOn, sm.dependsPos, sm.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	for from, to := range map[string]string{
		"Definition": "Definition", "DefinitionSubstitutions": "DefinitionSubstitutions",
		"Name": "StateMachineName", "Type": "StateMachineType", "Logging": "LoggingConfiguration",
		"Tracing": "TracingConfiguration", "Role": "RoleArn",
	} {
		copyProp(sm, sam, from, to)
	}
	if v, ok := p["DefinitionUri"]; ok {
		sm.props["DefinitionS3Location"] = definitionURI(v)
	}
	if m, ok := p["Tags"].(map[string]any); ok {
		sm.props["Tags"] = tagList(m, map[string]any{"Key": "stateMachine:createdBy", "Value": "SAM"})
	}
	if _, ok := p["Events"]; ok {
		t.env.warn("resource %s: the events of a state machine are not run by aloft", sam.id)
	}
	if _, ok := p["Role"]; !ok {
		role := t.derive(sam, sam.id+"Role", "AWS::IAM::Role", sam.at)
		role.props["AssumeRolePolicyDocument"] = assumeRole("states.amazonaws.com")
		if pol, ok := p["Policies"]; ok {
			role.metadata = map[string]any{"aloft:SamPolicies": pol}
		}
		if err := t.add(role); err != nil {
			return err
		}
		sm.props["RoleArn"] = getAtt(role.id, "Arn", sam.at)
	}
	return t.add(sm)
}

// application carries an AWS::Serverless::Application as the nested stack
// SAM generates; nested stacks are not run.
func (t *transformer) application(sam *rawResource) error {
	st := t.derive(sam, sam.id, "AWS::CloudFormation::Stack", sam.at)
	st.dependsOn, st.dependsPos, st.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	for _, k := range []string{"Parameters", "NotificationARNs", "TimeoutInMinutes"} {
		copyProp(st, sam, k, k)
	}
	st.props["TemplateURL"] = ""
	if loc, ok := sam.props["Location"].(string); ok {
		st.props["TemplateURL"] = loc
	}
	if m, ok := sam.props["Tags"].(map[string]any); ok {
		st.props["Tags"] = tagList(m)
	}
	return t.add(st)
}

// graphQL carries an AWS::Serverless::GraphQLApi as an AppSync API so
// references to it resolve (to placeholders).
func (t *transformer) graphQL(sam *rawResource) error {
	g := t.derive(sam, sam.id, "AWS::AppSync::GraphQLApi", sam.at)
	g.dependsOn, g.dependsPos, g.metadata = sam.dependsOn, sam.dependsPos, sam.metadata
	g.props["Name"] = sam.id
	copyProp(g, sam, "Name", "Name")
	return t.add(g)
}

// connector only grants IAM permissions between resources; locally there
// is nothing to grant.
func (t *transformer) connector(sam *rawResource) error {
	t.env.warn("resource %s (AWS::Serverless::Connector) only grants IAM permissions; aloft ignores it", sam.id)
	return nil
}
