package sqs

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The SQS API has one handler and two codecs. The JSON codec decodes the
// body as it is; the Query codec turns the form's flattened members
// (Attribute.1.Name, SendMessageBatchRequestEntry.2.MessageBody, …) into the
// same JSON document first, so each operation decodes one input type.
// Outputs are encoded as JSON, or as XML through the xml tags of the same
// types.

// protocol is the wire protocol of one request.
type protocol int

const (
	protoJSON protocol = iota
	protoQuery
)

// queryToJSON converts a Query request's form into the JSON protocol's
// request document.
func queryToJSON(form url.Values) ([]byte, error) {
	root := map[string]any{}
	for key, vals := range form {
		if key == "Action" || key == "Version" || len(vals) == 0 {
			continue
		}
		setPath(root, strings.Split(key, "."), vals[0])
	}
	return json.Marshal(normalize(root))
}

// setPath stores v at the dotted path; numeric parts become list indexes
// (kept as map keys "#1" until normalize turns them into lists).
func setPath(m map[string]any, parts []string, v string) {
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil {
			p = "#" + p
		}
		if i == len(parts)-1 {
			m[p] = v
			return
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
}

// renames maps a Query member (list or map) onto its JSON name.
var renames = map[string]string{
	"Attribute":                                "Attributes",
	"AttributeName":                            "AttributeNames",
	"MessageAttribute":                         "MessageAttributes",
	"MessageAttributeName":                     "MessageAttributeNames",
	"MessageSystemAttributeName":               "MessageSystemAttributeNames",
	"MessageSystemAttribute":                   "MessageSystemAttributes",
	"Tag":                                      "tags",
	"SendMessageBatchRequestEntry":             "Entries",
	"DeleteMessageBatchRequestEntry":           "Entries",
	"ChangeMessageVisibilityBatchRequestEntry": "Entries",
}

// normalize turns "#n" maps into lists (ordered by n), and lists of
// {Name, Value} or {Key, Value} into maps, under their JSON names.
func normalize(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if isList(m) {
		idx := make([]int, 0, len(m))
		for k := range m {
			n, _ := strconv.Atoi(k[1:])
			idx = append(idx, n)
		}
		sort.Ints(idx)
		out := make([]any, 0, len(idx))
		for _, n := range idx {
			out = append(out, normalize(m["#"+strconv.Itoa(n)]))
		}
		return out
	}
	out := map[string]any{}
	for k, val := range m {
		nv := normalize(val)
		if list, ok := nv.([]any); ok && (k == "Attribute" || k == "MessageAttribute" || k == "Tag" || k == "MessageSystemAttribute") {
			kv := map[string]any{}
			for _, e := range list {
				em, _ := e.(map[string]any)
				name, _ := em["Name"].(string)
				if k == "Tag" {
					name, _ = em["Key"].(string)
				}
				kv[name] = em["Value"]
			}
			nv = kv
		}
		if r, ok := renames[k]; ok {
			k = r
		}
		out[k] = nv
	}
	return out
}

func isList(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "#") {
			return false
		}
	}
	return true
}

// flexInt is an integer member: a JSON number, or a string in Query
// requests.
type flexInt struct {
	V   int
	Set bool
}

// UnmarshalJSON accepts a number or a string holding one.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return &badValue{value: s}
	}
	f.V, f.Set = n, true
	return nil
}

type badValue struct{ value string }

// Error implements error.
func (e *badValue) Error() string { return "invalid integer " + e.value }

// attrMap is a string map; in XML it is a flattened list of Name/Value
// elements named by the field.
type attrMap map[string]string

// MarshalXML writes one <Name/><Value/> element per entry, sorted by name.
func (m attrMap) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entry := struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		}{k, m[k]}
		if err := e.EncodeElement(entry, start); err != nil {
			return err
		}
	}
	return nil
}

// msgAttrMap is message attributes; in XML a flattened list of Name/Value.
type msgAttrMap map[string]MessageAttribute

// MarshalXML writes one <Name/><Value>…</Value> element per attribute.
func (m msgAttrMap) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type value struct {
		StringValue string `xml:"StringValue,omitempty"`
		BinaryValue []byte `xml:"BinaryValue,omitempty"`
		DataType    string `xml:"DataType"`
	}
	for _, k := range keys {
		a := m[k]
		entry := struct {
			Name  string `xml:"Name"`
			Value value  `xml:"Value"`
		}{k, value{StringValue: a.StringValue, DataType: a.DataType}}
		if len(a.BinaryValue) > 0 {
			entry.Value.BinaryValue = []byte(base64Std(a.BinaryValue))
		}
		if err := e.EncodeElement(entry, start); err != nil {
			return err
		}
	}
	return nil
}

// writeOutput encodes an operation's output in the request's protocol.
func writeOutput(w http.ResponseWriter, proto protocol, action, requestID string, out any) {
	var b []byte
	h := w.Header()
	h.Set("x-amzn-RequestId", requestID)
	if proto == protoJSON {
		if out == nil {
			out = struct{}{}
		}
		b, _ = json.Marshal(out)
		h.Set("Content-Type", "application/x-amz-json-1.0")
	} else {
		type meta struct {
			RequestID string `xml:"RequestId"`
		}
		var body []byte
		if out != nil {
			var err error
			if body, err = xml.Marshal(out); err != nil {
				writeXMLError(w, errorf(codeInternalError, "encoding the response: %v", err), requestID)
				return
			}
		}
		m, _ := xml.Marshal(meta{requestID})
		b = []byte(xml.Header + "<" + action + "Response xmlns=\"" + xmlns + "\">")
		b = append(b, body...)
		b = append(b, "<ResponseMetadata>"...)
		b = append(b, m[len("<meta>"):len(m)-len("</meta>")]...)
		b = append(b, "</ResponseMetadata></"+action+"Response>"...)
		h.Set("Content-Type", "text/xml")
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
