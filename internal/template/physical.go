package template

import (
	"crypto/sha256"
	"strings"
)

// runTypes are the resource types aloft runs. References to any other
// resource resolve to placeholders and are listed in Stack.Warnings. Layers
// count as run: their content is unpacked into the functions that use them.
// APIs, their stages and function URLs are served by internal/gateway. The
// map is read-only.
var runTypes = map[string]bool{
	"AWS::Lambda::Function":       true,
	"AWS::Lambda::LayerVersion":   true,
	"AWS::ApiGateway::RestApi":    true,
	"AWS::ApiGateway::Stage":      true,
	"AWS::ApiGateway::Deployment": true,
	"AWS::ApiGatewayV2::Api":      true,
	"AWS::ApiGatewayV2::Stage":    true,
	"AWS::Lambda::Url":            true,
	"AWS::SQS::Queue":             true,
	"AWS::SNS::Topic":             true,
	"AWS::SNS::Subscription":      true,
	"AWS::S3::Bucket":             true,
}

// identity is what Ref and Fn::GetAtt return for one resource.
type identity struct {
	ref   string
	attrs map[string]string
}

// kind describes how a modelled resource type gets its identity.
type kind struct {
	// names are the properties the identity depends on; only these are
	// resolved before the identity is known, so a resource may refer to
	// itself anywhere else.
	names []string
	ident func(c idContext) identity
}

type idContext struct {
	*env
	id    string
	props map[string]any // resolved values of the kind's names
}

func (c idContext) str(prop, fallback string) string {
	if s, ok := scalarString(c.props[prop]); ok && s != "" {
		return s
	}
	return fallback
}

func (c idContext) arn(service, region, account, resource string) string {
	return "arn:" + c.partition + ":" + service + ":" + region + ":" + account + ":" + resource
}

// stackName is the default name CloudFormation-style: "{stack}-{LogicalID}".
func (c idContext) stackName() string { return c.name + "-" + c.id }

// lambdaARN turns a function name (or ARN) into an ARN.
func (c idContext) lambdaARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return c.arn("lambda", c.region, c.account, "function:"+name)
}

// kinds is read-only.
var kinds = map[string]kind{
	"AWS::Lambda::Function": {names: []string{"FunctionName"}, ident: func(c idContext) identity {
		name := c.str("FunctionName", c.id)
		return identity{ref: name, attrs: map[string]string{"Arn": c.lambdaARN(name)}}
	}},
	"AWS::Lambda::Version": {names: []string{"FunctionName"}, ident: func(c idContext) identity {
		arn := c.lambdaARN(c.str("FunctionName", c.id)) + ":1"
		return identity{ref: arn, attrs: map[string]string{"Version": "1", "FunctionArn": arn}}
	}},
	"AWS::Lambda::Alias": {names: []string{"FunctionName", "Name"}, ident: func(c idContext) identity {
		arn := c.lambdaARN(c.str("FunctionName", c.id)) + ":" + c.str("Name", c.id)
		return identity{ref: arn, attrs: map[string]string{"AliasArn": arn}}
	}},
	"AWS::Lambda::LayerVersion": {names: []string{"LayerName"}, ident: func(c idContext) identity {
		arn := c.arn("lambda", c.region, c.account, "layer:"+c.str("LayerName", c.id)+":1")
		return identity{ref: arn, attrs: map[string]string{"LayerVersionArn": arn}}
	}},
	"AWS::Lambda::Url": {names: []string{"TargetFunctionArn"}, ident: func(c idContext) identity {
		fnARN := c.lambdaARN(c.str("TargetFunctionArn", c.id))
		return identity{ref: fnARN, attrs: map[string]string{
			"FunctionArn": fnARN,
			"FunctionUrl": "https://" + shortID(32, c.name, c.id, "url") + ".lambda-url." + c.region + ".on.aws/",
		}}
	}},
	"AWS::Lambda::EventSourceMapping": {ident: func(c idContext) identity {
		h := hexHash(c.name, c.id)
		uuid := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		return identity{ref: uuid, attrs: map[string]string{
			"Id": uuid, "EventSourceMappingArn": c.arn("lambda", c.region, c.account, "event-source-mapping:"+uuid),
		}}
	}},
	"AWS::IAM::Role": {names: []string{"RoleName", "Path"}, ident: func(c idContext) identity {
		name := c.str("RoleName", c.stackName())
		return identity{ref: name, attrs: map[string]string{
			"Arn":    c.arn("iam", "", c.account, "role"+c.str("Path", "/")+name),
			"RoleId": "AROA" + strings.ToUpper(hexHash(c.name, c.id)[:17]),
		}}
	}},
	"AWS::SQS::Queue": {names: []string{"QueueName", "FifoQueue"}, ident: func(c idContext) identity {
		name := c.str("QueueName", c.id)
		if fifo, _ := c.props["FifoQueue"].(bool); fifo && !strings.HasSuffix(name, ".fifo") {
			name += ".fifo"
		}
		url := "https://sqs." + c.region + "." + c.urlSuffix + "/" + c.account + "/" + name
		return identity{ref: url, attrs: map[string]string{
			"Arn": c.arn("sqs", c.region, c.account, name), "QueueName": name, "QueueUrl": url,
		}}
	}},
	"AWS::SNS::Topic": {names: []string{"TopicName", "FifoTopic"}, ident: func(c idContext) identity {
		name := c.str("TopicName", c.stackName())
		if fifo, _ := c.props["FifoTopic"].(bool); fifo && !strings.HasSuffix(name, ".fifo") {
			name += ".fifo"
		}
		arn := c.arn("sns", c.region, c.account, name)
		return identity{ref: arn, attrs: map[string]string{"TopicArn": arn, "TopicName": name}}
	}},
	"AWS::S3::Bucket": {names: []string{"BucketName"}, ident: func(c idContext) identity {
		name := c.str("BucketName", strings.ToLower(c.stackName()))
		return identity{ref: name, attrs: map[string]string{
			"Arn":                 c.arn("s3", "", "", name),
			"DomainName":          name + ".s3." + c.urlSuffix,
			"RegionalDomainName":  name + ".s3." + c.region + "." + c.urlSuffix,
			"DualStackDomainName": name + ".s3.dualstack." + c.region + "." + c.urlSuffix,
			"WebsiteURL":          "http://" + name + ".s3-website-" + c.region + "." + c.urlSuffix,
		}}
	}},
	"AWS::DynamoDB::Table": {names: []string{"TableName"}, ident: func(c idContext) identity {
		name := c.str("TableName", c.stackName())
		arn := c.arn("dynamodb", c.region, c.account, "table/"+name)
		return identity{ref: name, attrs: map[string]string{"Arn": arn, "StreamArn": arn + "/stream/1970-01-01T00:00:00.000"}}
	}},
	"AWS::Kinesis::Stream": {names: []string{"Name"}, ident: func(c idContext) identity {
		name := c.str("Name", c.stackName())
		return identity{ref: name, attrs: map[string]string{"Arn": c.arn("kinesis", c.region, c.account, "stream/"+name)}}
	}},
	"AWS::Events::EventBus": {names: []string{"Name"}, ident: func(c idContext) identity {
		name := c.str("Name", c.stackName())
		arn := c.arn("events", c.region, c.account, "event-bus/"+name)
		return identity{ref: name, attrs: map[string]string{"Arn": arn, "Name": name}}
	}},
	"AWS::Events::Rule": {names: []string{"Name", "EventBusName"}, ident: func(c idContext) identity {
		name := c.str("Name", c.stackName())
		resource := "rule/" + name
		if bus := c.str("EventBusName", "default"); bus != "default" && !strings.HasPrefix(bus, "arn:") {
			resource = "rule/" + bus + "/" + name
		}
		return identity{ref: name, attrs: map[string]string{"Arn": c.arn("events", c.region, c.account, resource)}}
	}},
	"AWS::Scheduler::Schedule": {names: []string{"Name", "GroupName"}, ident: func(c idContext) identity {
		name := c.str("Name", c.stackName())
		arn := c.arn("scheduler", c.region, c.account, "schedule/"+c.str("GroupName", "default")+"/"+name)
		return identity{ref: name, attrs: map[string]string{"Arn": arn}}
	}},
	"AWS::StepFunctions::StateMachine": {names: []string{"StateMachineName"}, ident: func(c idContext) identity {
		name := c.str("StateMachineName", c.stackName())
		arn := c.arn("states", c.region, c.account, "stateMachine:"+name)
		return identity{ref: arn, attrs: map[string]string{"Arn": arn, "Name": name}}
	}},
	"AWS::Logs::LogGroup": {names: []string{"LogGroupName"}, ident: func(c idContext) identity {
		name := c.str("LogGroupName", c.stackName())
		return identity{ref: name, attrs: map[string]string{"Arn": c.arn("logs", c.region, c.account, "log-group:"+name+":*")}}
	}},
	"AWS::ApiGateway::RestApi": {ident: func(c idContext) identity {
		id := apiID(c.env, c.id)
		return identity{ref: id, attrs: map[string]string{
			"RestApiId":      id,
			"RootResourceId": shortID(10, c.name, c.id, "root"),
		}}
	}},
	"AWS::ApiGatewayV2::Api": {ident: func(c idContext) identity {
		id := apiID(c.env, c.id)
		return identity{ref: id, attrs: map[string]string{
			"ApiId":       id,
			"ApiEndpoint": "https://" + id + ".execute-api." + c.region + "." + c.urlSuffix,
		}}
	}},
	"AWS::ApiGateway::Stage":   {names: []string{"StageName"}, ident: stageIdentity},
	"AWS::ApiGatewayV2::Stage": {names: []string{"StageName"}, ident: stageIdentity},
}

func stageIdentity(c idContext) identity {
	return identity{ref: c.str("StageName", c.id), attrs: map[string]string{}}
}

// apiID is a 10-character lowercase ID, like API Gateway's.
func apiID(e *env, logicalID string) string { return shortID(10, e.name, logicalID) }

// shortID is an n-character (n <= 32) ID of lowercase letters and digits
// derived from parts, so generated IDs look like AWS ones and stay stable.
func shortID(n int, parts ...string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(b)
}

// placeholderRef is what Ref returns for a type aloft does not model:
// "{LogicalID}-{8 hex}".
func placeholderRef(e *env, id string) string { return id + "-" + hexHash(e.name, id)[:8] }

// service is the ARN service of a type ("AWS::SQS::Queue" → "sqs").
func service(typ string) string {
	parts := strings.Split(typ, "::")
	if len(parts) >= 2 && parts[0] == "AWS" {
		return strings.ToLower(parts[1])
	}
	return strings.ToLower(parts[0])
}

// placeholderAttr is what Fn::GetAtt returns for an attribute aloft does
// not model: an ARN-shaped value for Arn, "{ref}.{Attr}" otherwise.
func placeholderAttr(e *env, r *rawResource, attr string) string {
	if attr == "Arn" {
		return "arn:" + e.partition + ":" + service(r.typ) + ":" + e.region + ":" + e.account + ":" + strings.ToLower(r.id)
	}
	return placeholderRef(e, r.id) + "." + attr
}

// identity returns the Ref and attributes of a resource, computing them the
// first time. A resource whose name depends on itself, directly or through
// others, is a circular reference.
func (r *resolver) identity(id string, pos Pos, sc scope) (*identity, error) {
	if x, ok := r.ids[id]; ok {
		return x, nil
	}
	for i, v := range r.visiting {
		if v == id {
			cycle := append(append([]string(nil), r.visiting[i:]...), id)
			return nil, r.errf(sc, pos, "circular reference: %s", strings.Join(cycle, " -> "))
		}
	}
	res := r.res[id]
	r.visiting = append(r.visiting, id)
	defer func() { r.visiting = r.visiting[:len(r.visiting)-1] }()

	k, ok := kinds[res.typ]
	if !ok {
		x := &identity{ref: placeholderRef(r.env, id), attrs: map[string]string{"Arn": placeholderAttr(r.env, res, "Arn")}}
		r.ids[id] = x
		return x, nil
	}
	props := map[string]any{}
	inner := scope{res: res.user(), track: runTypes[res.typ], at: res.at}
	for _, name := range k.names {
		v, ok := res.props[name]
		if !ok {
			continue
		}
		v, err := r.resolve(v, inner)
		if err != nil {
			return nil, err
		}
		if v != noValue {
			props[name] = v
		}
	}
	x := k.ident(idContext{env: r.env, id: id, props: props})
	r.ids[id] = &x
	return &x, nil
}
