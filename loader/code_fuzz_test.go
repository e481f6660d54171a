package loader_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// loaderCodeSeeds are worker bodies, hostile ones included, for Validate: TypeScript that
// compiles or not, imports of missing modules, the red-team's CPU attacks and the
// then-hijack as module code, sizes at the limits.
var loaderCodeSeeds = []string{
	`{"mainModule":"main.ts","modules":{"main.ts":"import { u } from './u.ts'; export default { run(): number { return u() } }","u.ts":"export const u = (): number => 1"}}`,
	`{"mainModule":"main.ts","modules":{"main.ts":"import { u } from './missing'; export default {}"}}`,
	`{"mainModule":"main.ts","modules":{"main.ts":"import os from 'qjs:os'; export default {}"}}`,
	`{"mainModule":"main.tsx","modules":{"main.tsx":"export default () => <div>{1}</div>"}}`,
	`{"mainModule":"main.ts","modules":{"main.ts":"export default { run( { return 1 } }"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"export default { run() { const s = \"a\".repeat(1e6), n = \"a\".repeat(1e3) + \"b\"; return s.indexOf(n) } }"},"limits":{"cpuMs":50,"wallMs":3000}}`,
	`{"mainModule":"main.ts","modules":{"main.ts":"export default { run(): string { return (7n ** 300000n).toString() } }"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"Object.defineProperty(Object.prototype, 'then', { get() { return (r) => r('hijacked') } }); export default {}"}}`,
	`{"mainModule":"main.js","modules":{"main.js":{"cjs":"module.exports = { run: () => 1 }"},"d.json":{"json":{"a":1}},"t":{"text":"x"},"b":{"data":"AAE="}}}`,
	`{"mainModule":"t","modules":{"t":{"text":"x"}}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x","w":{"wasm":"AGFzbQ=="}}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x","p.py":"print(1)"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x","README":"plain"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x","/etc/passwd":{"text":"x"}}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x"},"env":{"k":"` + strings.Repeat("a", 1<<10) + `"}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x"},"limits":{"cpuMs":-1}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x"},"limits":{"memoryMb":100000000}}`,
	`{"mainModule":"main.js","modules":{"main.js":"x"},"globalOutbound":{"rules":[]}}`,
	`{"mainModule":"","modules":{}}`,
	`{"mainModule":"a.ts","modules":{"a.ts":"\ud800"}}`,
}

// Validate refuses with a typed error of a known code, the same every time for the same
// code (whatever order the modules are visited in), and accepts only code whose main
// module is there and whose env fits.
func FuzzValidate(f *testing.F) {
	for _, s := range loaderCodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<14 {
			return // esbuild compiles the TypeScript modules: keep each run short
		}
		var c loader.WorkerCode
		if err := json.Unmarshal(b, &c); err != nil {
			return
		}
		err := c.Validate()
		if err != nil {
			var e *isoerr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate: %v (%T) is not typed", err, err)
			}
			switch e.Code {
			case isoerr.InvalidWorkerCode, isoerr.InvalidRequest, isoerr.CodeTooLarge, isoerr.EnvTooLarge, isoerr.NotImplemented:
			default:
				t.Fatalf("Validate: unexpected code %s: %v", e.Code, err)
			}
			for range 20 {
				if again := c.Validate(); again == nil || again.Error() != err.Error() {
					t.Fatalf("Validate is not deterministic:\n%v\n%v", err, again)
				}
			}
			return
		}
		if _, ok := c.Modules[c.MainModule]; !ok {
			t.Fatalf("validated without its main module %q", c.MainModule)
		}
		env, err := json.Marshal(c.Env)
		if err != nil || len(env) > loader.MaxEnvSize {
			t.Fatalf("validated an env that is %d bytes or does not serialize (%v)", len(env), err)
		}
	})
}
