package engine_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
)

// The base image is byte-identical in every process of one build (fixed clocks and seed
// while it is made), so that hibernated images, stored relative to it, resume after a
// restart: this test's engine and one made by a second process agree.
func TestBaseImageIsDeterministic(t *testing.T) {
	if out := os.Getenv("ISOBOX_TEST_BASE_SUM_TO"); out != "" { // the second process
		sum := engine.BaseImageSum(testEngine)
		if err := os.WriteFile(out, []byte(hex.EncodeToString(sum[:])), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	sum := engine.BaseImageSum(testEngine)
	if sum == [32]byte{} {
		t.Fatal("the test engine has no base image")
	}
	out := filepath.Join(t.TempDir(), "sum")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBaseImageIsDeterministic$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ISOBOX_TEST_BASE_SUM_TO="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second process: %v\n%s", err, b)
	}
	other, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sum[:]); string(other) != got {
		t.Fatalf("base image sha256 %s in this process, %s in another", got, other)
	}
}

// engine.Limits is not a wire type: its durations are nanoseconds, so it has no JSON tags
// (cpuMs once named nanoseconds) and refuses to be marshalled; api.Limits is the wire form.
func TestLimitsHaveNoJSONForm(t *testing.T) {
	typ := reflect.TypeFor[engine.Limits]()
	for i := range typ.NumField() {
		if tag, ok := typ.Field(i).Tag.Lookup("json"); ok {
			t.Errorf("engine.Limits.%s has a json tag %q", typ.Field(i).Name, tag)
		}
	}
	_, err := json.Marshal(engine.Limits{CPU: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "api.Limits") {
		t.Fatalf("marshalling engine.Limits: %v, want an error pointing to api.Limits", err)
	}
	_, err = json.Marshal(struct{ L engine.Limits }{})
	if err == nil {
		t.Fatal("a struct holding engine.Limits marshalled")
	}
}

// How long New took to compile QuickJS is readable, not writable.
func TestCompileTime(t *testing.T) {
	if d := testEngine.CompileTime(); d <= 0 {
		t.Fatalf("CompileTime() = %v", d)
	}
}
