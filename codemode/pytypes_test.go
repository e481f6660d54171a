package codemode

import (
	"path/filepath"
	"strings"
	"testing"
)

// Golden Python declarations: each fixture's Python must match
// testdata/types/NAME.py.golden (go test ./codemode -run Golden -update rewrites them);
// TestPythonTypesParse checks that CPython parses them.
func TestPythonTypesGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/types/*.json")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			got, err := PythonTypes(loadFixture(t, f)...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".json")+".py.golden", got)
		})
	}
}

// The Python prompt: instructions, an example with the first tool's required keyword
// arguments, and the declaration.
func TestDescribePythonGolden(t *testing.T) {
	got, err := DescribePython(Limits{}, loadFixture(t, "testdata/types/namespaces.json")...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/prompt.py.golden", got)
	for _, want := range []string{"Python 3.13", "asyncio.gather", "class github:", "async def ", "100 tool calls", "await "} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt lacks %q", want)
		}
	}
}
