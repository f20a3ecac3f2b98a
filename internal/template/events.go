package template

import (
	"fmt"
	"regexp"
	"strings"
)

// eventCtx is one entry of a SAM function's Events while it is translated.
type eventCtx struct {
	t     *transformer
	sam   *rawResource // the AWS::Serverless::Function
	name  string       // the event's key
	id    string       // <Fn><EventName>, the logical ID SAM gives the event's resources
	typ   string
	props map[string]any
	at    Pos
	inv   invoker
	role  *rawResource // the generated execution role; nil when Role is given
}

func (e *eventCtx) errorf(format string, args ...any) error {
	return errorf(e.at, e.sam.id, "Events.%s: %s", e.name, fmt.Sprintf(format, args...))
}

// pos is the position of a property of the event.
func (e *eventCtx) pos(path ...string) Pos {
	return e.sam.pos.at(e.at, append([]string{"Events", e.name, "Properties"}, path...)...)
}

func (e *eventCtx) require(key string) (any, error) {
	v, ok := e.props[key]
	if !ok || v == nil {
		return nil, e.errorf("%s event needs %s", e.typ, key)
	}
	return v, nil
}

// str resolves a property SAM needs as a literal string (a path, a method).
func (e *eventCtx) str(key string) (string, error) {
	v, err := e.require(key)
	if err != nil {
		return "", err
	}
	return e.t.staticString(v, e.sam, "Events."+e.name+"."+key, "Events", e.name, "Properties", key)
}

// derive starts a generated resource for this event.
func (e *eventCtx) derive(id, typ string) *rawResource {
	r := e.t.derive(e.sam, id, typ, e.at)
	copyPos(r.pos, e.sam.pos, []string{"Events", e.name, "Properties"}, nil)
	return r
}

// record keeps the event as the user wrote it on its main generated
// resource (see MetaSAMEvent).
func (e *eventCtx) record(r *rawResource, extra map[string]any) {
	ev := map[string]any{"Function": e.sam.id, "Name": e.name, "Type": e.typ, "Properties": deepCopy(e.props)}
	for k, v := range extra {
		ev[k] = v
	}
	if r.metadata == nil {
		r.metadata = map[string]any{}
	}
	r.metadata[MetaSAMEvent] = ev
}

// permission builds the AWS::Lambda::Permission a push source needs.
func (e *eventCtx) permission(id, principal string, sourceArn, sourceAccount any) (*rawResource, error) {
	p := e.derive(id, "AWS::Lambda::Permission")
	p.props["Action"] = "lambda:InvokeFunction"
	p.props["FunctionName"] = e.inv.name
	p.props["Principal"] = principal
	if sourceArn != nil {
		p.props["SourceArn"] = sourceArn
	}
	if sourceAccount != nil {
		p.props["SourceAccount"] = sourceAccount
	}
	return p, e.t.add(p)
}

// copyExcept copies the event's properties to r except the listed ones.
func (e *eventCtx) copyExcept(r *rawResource, skip ...string) {
	for _, k := range sortedKeys(e.props) {
		if !contains(skip, k) {
			r.props[k] = e.props[k]
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pullSources are the event types that become an EventSourceMapping: the
// property naming the source and the managed policy SAM adds to the role.
var pullSources = map[string]struct{ key, policy string }{
	"SQS":              {"Queue", "service-role/AWSLambdaSQSQueueExecutionRole"},
	"Kinesis":          {"Stream", "service-role/AWSLambdaKinesisExecutionRole"},
	"DynamoDB":         {"Stream", "service-role/AWSLambdaDynamoDBExecutionRole"},
	"MSK":              {"Stream", "service-role/AWSLambdaMSKExecutionRole"},
	"MQ":               {"Broker", ""},
	"DocumentDB":       {"Cluster", ""},
	"SelfManagedKafka": {"", ""},
}

// unsupportedEvents are SAM event types aloft knows but does not run.
var unsupportedEvents = map[string]bool{"CloudWatchLogs": true, "IoTRule": true, "AlexaSkill": true, "Cognito": true}

// event translates one entry of a function's Events.
func (t *transformer) event(sam *rawResource, name string, v any, inv invoker, role *rawResource) error {
	at := sam.pos.at(sam.at, "Events", name)
	ev, ok := v.(map[string]any)
	if !ok {
		return errorf(at, sam.id, "Events.%s must be a mapping", name)
	}
	if !isAlnum(name) {
		return errorf(at, sam.id, "event name %q must be alphanumeric", name)
	}
	typ, ok := ev["Type"].(string)
	if !ok {
		return errorf(at, sam.id, "Events.%s needs a Type", name)
	}
	props := map[string]any{}
	if pv := ev["Properties"]; pv != nil {
		if props, ok = pv.(map[string]any); !ok {
			return errorf(at, sam.id, "Events.%s: Properties must be a mapping", name)
		}
	}
	e := &eventCtx{t: t, sam: sam, name: name, id: sam.id + name, typ: typ, props: props, at: at, inv: inv, role: role}
	if _, ok := pullSources[typ]; ok {
		return e.pull()
	}
	switch typ {
	case "S3":
		return e.s3()
	case "SNS":
		return e.sns()
	case "Schedule":
		return e.schedule()
	case "ScheduleV2":
		return e.scheduleV2()
	case "EventBridgeRule", "CloudWatchEvent":
		return e.eventBridge()
	case "Api":
		return e.api()
	case "HttpApi":
		return e.httpAPI()
	}
	if unsupportedEvents[typ] {
		t.env.warn("resource %s: event %s (%s) is not run by aloft; it is ignored", sam.id, name, typ)
		return nil
	}
	return e.errorf("unknown event type %q", typ)
}

// pull translates SQS, Kinesis, DynamoDB, MQ, MSK, DocumentDB and
// SelfManagedKafka events into an EventSourceMapping.
func (e *eventCtx) pull() error {
	src := pullSources[e.typ]
	esm := e.derive(e.id, "AWS::Lambda::EventSourceMapping")
	esm.props["FunctionName"] = e.inv.name
	if src.key != "" {
		arn, err := e.require(src.key)
		if err != nil {
			return err
		}
		esm.props["EventSourceArn"] = arn
		copyPos(esm.pos, e.sam.pos, []string{"Events", e.name, "Properties", src.key}, []string{"EventSourceArn"})
	}
	e.copyExcept(esm, src.key, "SecretsManagerKmsKeyId", "KafkaBootstrapServers", "ConsumerGroupId", "DestinationConfig")
	if v, ok := e.props["KafkaBootstrapServers"]; ok {
		esm.props["SelfManagedEventSource"] = map[string]any{"Endpoints": map[string]any{"KafkaBootstrapServers": v}}
	}
	if v, ok := e.props["ConsumerGroupId"]; ok {
		switch e.typ {
		case "MSK":
			esm.props["AmazonManagedKafkaEventSourceConfig"] = map[string]any{"ConsumerGroupId": v}
		case "SelfManagedKafka":
			esm.props["SelfManagedKafkaEventSourceConfig"] = map[string]any{"ConsumerGroupId": v}
		default:
			return e.errorf("ConsumerGroupId is only valid for MSK and SelfManagedKafka events")
		}
	}
	if v, ok := e.props["DestinationConfig"]; ok {
		// Type only tells SAM which policy to add to the role.
		dc := deepCopy(v)
		if m, ok := dc.(map[string]any); ok {
			if of, ok := m["OnFailure"].(map[string]any); ok {
				delete(of, "Type")
			}
		}
		esm.props["DestinationConfig"] = dc
	}
	if src.policy != "" {
		addManagedPolicy(e.role, e.t.managedPolicy(src.policy))
	}
	e.record(esm, nil)
	return e.t.add(esm)
}

// s3 adds a LambdaConfiguration to the bucket's NotificationConfiguration
// and makes the bucket depend on the permission, as SAM does.
func (e *eventCtx) s3() error {
	bucketID, ok := refName(e.props["Bucket"])
	bucket := e.t.out[bucketID]
	if !ok || bucket == nil || bucket.typ != "AWS::S3::Bucket" {
		return e.errorf("S3 events must reference an S3 bucket in the same template (Bucket: !Ref MyBucket)")
	}
	events, err := e.require("Events")
	if err != nil {
		return err
	}
	list, ok := events.([]any)
	if !ok {
		list = []any{events}
	}
	perm, err := e.permission(e.id+"Permission", "s3.amazonaws.com", nil, ref("AWS::AccountId", e.at))
	if err != nil {
		return err
	}
	e.record(perm, nil)

	nc, _ := bucket.props["NotificationConfiguration"].(map[string]any)
	if nc == nil {
		if bucket.props["NotificationConfiguration"] != nil {
			return errorf(bucket.at, bucket.id, "NotificationConfiguration must be a mapping to add the S3 event of %s", e.sam.id)
		}
		nc = map[string]any{}
		bucket.props["NotificationConfiguration"] = nc
	}
	lcs, _ := nc["LambdaConfigurations"].([]any)
	for _, ev := range list {
		lc := map[string]any{"Event": ev, "Function": e.inv.arn}
		if f, ok := e.props["Filter"]; ok {
			lc["Filter"] = deepCopy(f)
		}
		lcs = append(lcs, lc)
	}
	nc["LambdaConfigurations"] = lcs
	if !contains(bucket.dependsOn, perm.id) {
		bucket.dependsOn = append(bucket.dependsOn, perm.id)
	}
	return nil
}

// sns subscribes the function to the topic.
func (e *eventCtx) sns() error {
	topic, err := e.require("Topic")
	if err != nil {
		return err
	}
	if _, ok := e.props["SqsSubscription"]; ok {
		e.t.env.warn("resource %s: event %s: SqsSubscription is not modelled; the function is subscribed to the topic directly", e.sam.id, e.name)
	}
	s := e.derive(e.id, "AWS::SNS::Subscription")
	e.copyExcept(s, "Topic", "SqsSubscription")
	s.props["Endpoint"] = e.inv.arn
	s.props["Protocol"] = "lambda"
	s.props["TopicArn"] = topic
	e.record(s, nil)
	if err := e.t.add(s); err != nil {
		return err
	}
	_, err = e.permission(e.id+"Permission", "sns.amazonaws.com", topic, nil)
	return err
}

// state maps SAM's Enabled (or State) onto a rule's State.
func (e *eventCtx) state() (any, error) {
	st, hasState := e.props["State"]
	en, hasEnabled := e.props["Enabled"]
	switch {
	case hasState && hasEnabled:
		return nil, e.errorf("State and Enabled cannot both be set")
	case hasState:
		return st, nil
	case hasEnabled:
		b, ok := en.(bool)
		if !ok {
			return nil, e.errorf("Enabled must be true or false")
		}
		if b {
			return "ENABLED", nil
		}
		return "DISABLED", nil
	}
	return nil, nil
}

// rule builds the EventBridge rule shared by Schedule and EventBridgeRule
// events, with its permission.
func (e *eventCtx) rule(props map[string]any, target map[string]any) error {
	r := e.derive(e.id, "AWS::Events::Rule")
	for k, v := range props {
		if v != nil {
			r.props[k] = v
		}
	}
	st, err := e.state()
	if err != nil {
		return err
	}
	if st != nil {
		r.props["State"] = st
	}
	target["Arn"] = e.inv.arn
	if _, ok := target["Id"]; !ok {
		target["Id"] = e.id + "LambdaTarget"
	}
	for _, k := range []string{"Input", "InputPath", "InputTransformer", "RetryPolicy"} {
		if v, ok := e.props[k]; ok {
			target[k] = v
		}
	}
	if dlc, ok := e.props["DeadLetterConfig"].(map[string]any); ok {
		if arn, ok := dlc["Arn"]; ok {
			target["DeadLetterConfig"] = map[string]any{"Arn": arn}
		} else {
			e.t.env.warn("resource %s: event %s: a DeadLetterConfig without Arn (a queue SAM would create) is not modelled", e.sam.id, e.name)
		}
	}
	r.props["Targets"] = []any{target}
	e.record(r, nil)
	if err := e.t.add(r); err != nil {
		return err
	}
	_, err = e.permission(e.id+"Permission", "events.amazonaws.com", getAtt(r.id, "Arn", e.at), nil)
	return err
}

func (e *eventCtx) schedule() error {
	expr, err := e.require("Schedule")
	if err != nil {
		return err
	}
	return e.rule(map[string]any{
		"ScheduleExpression": expr, "Name": e.props["Name"], "Description": e.props["Description"],
	}, map[string]any{})
}

func (e *eventCtx) eventBridge() error {
	target := map[string]any{}
	if tg, ok := e.props["Target"].(map[string]any); ok && tg["Id"] != nil {
		target["Id"] = tg["Id"]
	}
	return e.rule(map[string]any{
		"EventPattern": e.props["Pattern"], "EventBusName": e.props["EventBusName"], "Name": e.props["RuleName"],
	}, target)
}

// scheduleV2 builds an EventBridge Scheduler schedule. Scheduler invokes
// through a role rather than a resource policy, so SAM generates
// <Fn><Event>Role instead of a Permission.
func (e *eventCtx) scheduleV2() error {
	expr, err := e.require("ScheduleExpression")
	if err != nil {
		return err
	}
	s := e.derive(e.id, "AWS::Scheduler::Schedule")
	e.copyExcept(s, "Input", "RetryPolicy", "DeadLetterConfig", "RoleArn", "OmitName", "PermissionsBoundary")
	s.props["ScheduleExpression"] = expr
	if _, ok := s.props["FlexibleTimeWindow"]; !ok {
		s.props["FlexibleTimeWindow"] = map[string]any{"Mode": "OFF"}
	}
	if omit, _ := e.props["OmitName"].(bool); !omit && s.props["Name"] == nil {
		s.props["Name"] = e.id
	}
	target := map[string]any{"Arn": e.inv.arn}
	for _, k := range []string{"Input", "RetryPolicy", "DeadLetterConfig"} {
		if v, ok := e.props[k]; ok {
			target[k] = v
		}
	}
	if v, ok := e.props["RoleArn"]; ok {
		target["RoleArn"] = v
	} else {
		role := e.derive(e.id+"Role", "AWS::IAM::Role")
		role.pos = posTable{}
		role.props["AssumeRolePolicyDocument"] = assumeRole("scheduler.amazonaws.com")
		role.props["Policies"] = []any{map[string]any{
			"PolicyName": e.id + "LambdaPolicy",
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": e.inv.arn,
			}}},
		}}
		if v, ok := e.props["PermissionsBoundary"]; ok {
			role.props["PermissionsBoundary"] = v
		}
		if err := e.t.add(role); err != nil {
			return err
		}
		target["RoleArn"] = getAtt(role.id, "Arn", e.at)
	}
	s.props["Target"] = target
	e.record(s, nil)
	return e.t.add(s)
}

// apiRef finds the explicit API an Api or HttpApi event names.
func (e *eventCtx) apiRef(key, typ string) (string, *rawResource, error) {
	v, ok := e.props[key]
	if !ok {
		return "", nil, nil
	}
	id, ok := refName(v)
	api := e.t.in[id]
	if !ok || api == nil || api.typ != typ {
		return "", nil, e.errorf("%s must be a Ref to an %s in this template", key, typ)
	}
	return id, api, nil
}

// api adds a route to a REST API (the implicit ServerlessRestApi or the one
// RestApiId names) and the permission for API Gateway to call the function.
func (e *eventCtx) api() error {
	path, err := e.str("Path")
	if err != nil {
		return err
	}
	method, err := e.str("Method")
	if err != nil {
		return err
	}
	apiID, suffix := "ServerlessRestApi", "Prod"
	id, api, err := e.apiRef("RestApiId", "AWS::Serverless::Api")
	if err != nil {
		return err
	}
	if api != nil {
		apiID, suffix = id, "Stage"
		if s, ok := api.props["StageName"].(string); ok && s != "" {
			suffix = s
		}
	}
	if err := e.addRoute(e.t.rest, apiID, path, method, nil); err != nil {
		return err
	}
	if !isAlnum(suffix) {
		suffix = hexHash(suffix)[:10]
	}
	perm, err := e.permission(e.id+"Permission"+suffix, "apigateway.amazonaws.com", e.executeAPIArn(apiID, path, method), nil)
	if err != nil {
		return err
	}
	e.record(perm, map[string]any{"Api": apiID})
	return nil
}

// httpAPI adds a route to an HTTP API (the implicit ServerlessHttpApi or the
// one ApiId names). Without Path and Method the route is $default.
func (e *eventCtx) httpAPI() error {
	path, method := "$default", "ANY"
	var err error
	if _, ok := e.props["Path"]; ok {
		if path, err = e.str("Path"); err != nil {
			return err
		}
	}
	if _, ok := e.props["Method"]; ok {
		if method, err = e.str("Method"); err != nil {
			return err
		}
	}
	apiID := "ServerlessHttpApi"
	id, api, err := e.apiRef("ApiId", "AWS::Serverless::HttpApi")
	if err != nil {
		return err
	}
	if api != nil {
		apiID = id
	}
	payload := e.props["PayloadFormatVersion"]
	if payload == nil {
		payload = "2.0"
	}
	if err := e.addRoute(e.t.http, apiID, path, method, payload); err != nil {
		return err
	}
	perm, err := e.permission(e.id+"Permission", "apigateway.amazonaws.com", e.executeAPIArn(apiID, path, method), nil)
	if err != nil {
		return err
	}
	e.record(perm, map[string]any{"Api": apiID})
	return nil
}

// methodKey is the OpenAPI operation key for an event's Method.
func methodKey(method string) string {
	m := strings.ToLower(method)
	if m == "any" {
		return "x-amazon-apigateway-any-method"
	}
	return m
}

func (e *eventCtx) addRoute(apis map[string]*apiRoutes, apiID, path, method string, payload any) error {
	a := apis[apiID]
	if a == nil {
		a = &apiRoutes{from: e.sam.id, at: e.at}
		apis[apiID] = a
	}
	for _, r := range a.routes {
		if r.path == path && methodKey(r.method) == methodKey(method) {
			return e.errorf("API method %q is defined more than once for path %q (also by %s.Events.%s)", strings.ToLower(method), path, r.fn, r.event)
		}
	}
	uri := sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${"+e.inv.short+"}/invocations", e.at)
	a.routes = append(a.routes, route{path: path, method: method, uri: uri, payload: payload, fn: e.sam.id, event: e.name, at: e.at})
	return nil
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// executeAPIArn is the SourceArn of an API's permission: any stage, the
// event's method, and its path with parameters as wildcards.
func (e *eventCtx) executeAPIArn(apiID, path, method string) any {
	m := strings.ToUpper(method)
	if m == "ANY" || m == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
		m = "*"
	}
	if path == "$default" {
		path = ""
	} else {
		if len(path) > 1 {
			path = strings.TrimSuffix(path, "/")
		}
		path = pathParam.ReplaceAllString(path, "*")
	}
	return subVars("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/"+m+path,
		map[string]any{"__ApiId__": ref(apiID, e.at), "__Stage__": "*"}, e.at)
}
