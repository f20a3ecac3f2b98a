package sns

import "testing"

func TestFilterPolicy(t *testing.T) {
	attrs := map[string]Attribute{
		"store":    {"String", "example_corp"},
		"event":    {"String", "order_placed"},
		"price":    {"Number", "210.75"},
		"customer": {"String.Array", `["gold","vip"]`},
		"encoded":  {"Binary", "AQID"},
	}
	body := `{"store":"example_corp","order":{"price":210.75,"items":["a","b"]},"status":"OK"}`
	tests := []struct {
		name, policy, scope string
		want                bool
	}{
		{"no policy", "", "", true},
		{"exact string", `{"store":["example_corp"]}`, "", true},
		{"exact string, other value", `{"store":["other"]}`, "", false},
		{"OR within a key", `{"store":["other","example_corp"]}`, "", true},
		{"AND across keys", `{"store":["example_corp"],"event":["order_cancelled"]}`, "", false},
		{"missing key", `{"color":["red"]}`, "", false},
		{"prefix", `{"event":[{"prefix":"order_"}]}`, "", true},
		{"suffix", `{"event":[{"suffix":"_placed"}]}`, "", true},
		{"equals-ignore-case", `{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}`, "", true},
		{"anything-but list", `{"event":[{"anything-but":["order_cancelled"]}]}`, "", true},
		{"anything-but hit", `{"event":[{"anything-but":"order_placed"}]}`, "", false},
		{"anything-but prefix", `{"event":[{"anything-but":{"prefix":"order"}}]}`, "", false},
		{"numeric range", `{"price":[{"numeric":[">",100,"<=",300]}]}`, "", true},
		{"numeric out of range", `{"price":[{"numeric":["<",100]}]}`, "", false},
		{"numeric equals", `{"price":[{"numeric":["=",210.75]}]}`, "", true},
		{"number exact", `{"price":[210.75]}`, "", true},
		{"exists true", `{"store":[{"exists":true}]}`, "", true},
		{"exists false on a present key", `{"store":[{"exists":false}]}`, "", false},
		{"exists false on a missing key", `{"color":[{"exists":false}]}`, "", true},
		{"string array matches any element", `{"customer":["vip"]}`, "", true},
		{"binary attributes are not matched", `{"encoded":["AQID"]}`, "", false},
		{"$or", `{"$or":[{"store":["nope"]},{"event":["order_placed"]}]}`, "", true},
		{"$or none", `{"$or":[{"store":["nope"]},{"event":["nope"]}]}`, "", false},
		{"body exact", `{"store":["example_corp"]}`, "MessageBody", true},
		{"body nested", `{"order":{"price":[{"numeric":[">",200]}]}}`, "MessageBody", true},
		{"body nested miss", `{"order":{"price":[{"numeric":["<",200]}]}}`, "MessageBody", false},
		{"body array element", `{"order":{"items":["b"]}}`, "MessageBody", true},
		{"body ignores attributes", `{"event":["order_placed"]}`, "MessageBody", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := ParseFilterPolicy(tt.policy, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if got := fp.Match(body, attrs); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := ParseFilterPolicy(`{"a":{"b":["c"]}}`, ""); err == nil {
		t.Error("nested keys in the attributes scope must be refused")
	}
	if _, err := ParseFilterPolicy(`{"a":"c"}`, ""); err == nil {
		t.Error("a bare value must be refused")
	}
	if fp, _ := ParseFilterPolicy(`{"a":["b"]}`, "MessageBody"); fp.Match("not json", nil) {
		t.Error("a non-JSON body matched a body policy")
	}
}
