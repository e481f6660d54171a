package sandboxproc

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// The nodejs_compat flag crosses into the sandbox process with the code: the same
// module imports node:buffer with it and is refused without it.
func TestPoolNodeCompatFlag(t *testing.T) {
	p := newPool(t, 1)
	src := `import { Buffer } from "node:buffer"; export default { f() { return Buffer.from("hi").toString("hex") } }`
	with := jsCode(src)
	with.CompatibilityFlags = []string{"nodejs_compat"}
	res, err := p.Get("with", func() (loader.WorkerCode, error) { return with, nil }).Call(context.Background(), "f", nil)
	if err != nil || string(res.Value) != `"6869"` {
		t.Fatalf("with nodejs_compat: %v %v", res, err)
	}
	_, err = p.Get("without", func() (loader.WorkerCode, error) { return jsCode(src), nil }).Call(context.Background(), "f", nil)
	if isoerr.CodeOf(err) != isoerr.InvalidWorkerCode || !strings.Contains(err.Error(), "nodejs_compat") {
		t.Fatalf("without the flag: %v", err)
	}
}
