package toolset

import (
	"strings"
	"testing"
)

// Names Python cannot write with a dot become identifiers it can; the host still knows
// the tool by its JavaScript name.
func TestPythonIdentifiers(t *testing.T) {
	for in, want := range map[string]string{
		"search_web": "search_web", "class": "class_", "from": "from_", "$ref": "_ref",
		"None": "None_", "lambda": "lambda_", "delete_": "delete_", "match": "match",
	} {
		if got := PyIdent(in); got != want {
			t.Errorf("PyIdent(%q) = %q, want %q", in, got, want)
		}
	}
}

// A description cannot end the docstring and inject code into the declaration.
func TestPythonDocstringEscapes(t *testing.T) {
	got := pyDocstring(`x"""; import os; """`, "", []string{`a: b"""`})
	if strings.Count(got, `"""`) != 2 {
		t.Fatalf("docstring %q has more than its own quotes", got)
	}
}
