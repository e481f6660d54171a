package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The example runs to its final answer: the scripted model's first code is rejected by
// the schema check, the second calls four tools.
func TestExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, t.TempDir()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"additional properties 'label' not allowed (the properties are state, labels)",
		"isobox ran it: 4 tool calls",
		`Result: ["#5 Leak in the cache","#1 Crash on empty config"]`,
		"=== assistant (final answer) ===",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
