package template

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected part of testdata/transform/*.txt")

// goldenSeparator splits a golden file into the input template and the
// expected model.
const goldenSeparator = "\n----------\n"

// goldenOption lines in an input set Options: "# param: Name=value",
// "# stack: name", "# region: name", "# account: id".
var goldenOption = regexp.MustCompile(`(?m)^# (param|stack|region|account): (.*)$`)

// TestTransform runs every testdata/transform/*.txt: the template before the
// separator, the expected CloudFormation-level model (or "error: …") after.
// go test ./internal/template -update rewrites the expected parts.
func TestTransform(t *testing.T) {
	files, err := filepath.Glob("testdata/transform/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(data), goldenSeparator)
			if !ok && !*update {
				t.Fatalf("%s has no %q separator line", file, strings.TrimSpace(goldenSeparator))
			}
			got := renderGolden(t, input)
			if *update {
				out := strings.TrimRight(input, "\n") + goldenSeparator + got
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: model differs (run with -update to rewrite, then review)\n--- got\n%s\n--- want\n%s", file, got, want)
			}
		})
	}
}

func renderGolden(t *testing.T, input string) string {
	t.Helper()
	opts := Options{Parameters: map[string]string{}}
	for _, m := range goldenOption.FindAllStringSubmatch(input, -1) {
		switch m[1] {
		case "param":
			k, v, _ := strings.Cut(m[2], "=")
			opts.Parameters[k] = v
		case "stack":
			opts.StackName = m[2]
		case "region":
			opts.Region = m[2]
		case "account":
			opts.AccountID = m[2]
		}
	}
	st, err := Parse("template.yaml", []byte(input), "/app", opts)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	type resource struct {
		Type       string
		FromSAM    string `json:",omitempty"`
		Properties map[string]any
		Metadata   map[string]any `json:",omitempty"`
		DependsOn  []string       `json:",omitempty"`
		PhysicalID string
		Attrs      map[string]string `json:",omitempty"`
	}
	type output struct {
		Name        string
		Description string `json:",omitempty"`
		Value       string
		Export      string `json:",omitempty"`
	}
	model := struct {
		Resources map[string]resource
		Outputs   []output `json:",omitempty"`
		Warnings  []string `json:",omitempty"`
	}{Resources: map[string]resource{}, Warnings: st.Warnings}
	for id, r := range st.Resources {
		model.Resources[id] = resource{r.Type, r.FromSAM, r.Properties, r.Metadata, r.DependsOn, r.PhysicalID, r.Attrs}
	}
	for _, o := range st.Outputs {
		model.Outputs = append(model.Outputs, output{o.Name, o.Description, o.Value, o.Export})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(model); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
