// Package testenv holds the project's one rule for tests that need something
// the machine may lack (an interpreter, npm, Debian's awscli): under CI
// (CI set in the environment, as .ci/run and CI services set it) a missing
// requirement fails the test, naming what is missing; elsewhere the test
// skips with the same message, so a developer's machine without, say, pip
// still runs the rest of the suite. It also holds the small helpers several
// packages' tests share (Buffer).
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// CI reports whether the tests run under CI, where nothing may skip for want
// of a tool.
func CI() bool { return os.Getenv("CI") != "" }

// Unavailable ends the test because something it needs cannot be had here:
// t.Fatal under CI, t.Skip elsewhere. The message says what is missing and,
// ideally, how to get it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI is set: a missing requirement is a failure, not a skip)", msg)
	}
	t.Skipf("%s (skipped; with CI set this fails)", msg)
}
