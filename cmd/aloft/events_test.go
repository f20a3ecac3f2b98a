package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/aloft-dev/aloft/internal/server"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestPrintEvents renders testdata/events/report.json (an EventReport as
// GET /_aloft/events serves it) and compares with the golden table.
func TestPrintEvents(t *testing.T) {
	raw, err := os.ReadFile("testdata/events/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep server.EventReport
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printEvents(&out, &rep); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/events/report.txt"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("aloft events printed\n%s\nwant\n%s", out.String(), want)
	}
}
