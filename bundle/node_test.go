package bundle_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
)

// An npm package written for Node (CommonJS requiring events, util and buffer by their
// bare names) and an ES module package importing node:buffer bundle under nodejs_compat
// and run in a real sandbox against the runtime's Node modules.
func TestNodeCompatPackages(t *testing.T) {
	reg := npmtest.NewRegistry(t)
	publish(reg)
	reg.Add("bus", "2.1.0", npmtest.Version{Files: map[string]string{
		"package.json": `{"name":"bus","version":"2.1.0","main":"lib/bus.js"}`,
		"lib/bus.js": `const EventEmitter = require("events");
const { inherits } = require("util");
const { Buffer } = require("buffer");
function Bus() { EventEmitter.call(this); }
inherits(Bus, EventEmitter);
Bus.prototype.send = function (s) { this.emit("data", Buffer.from(s).toString("hex")); };
Bus.prototype.b64 = function (s) { return global_Buffer().from(s).toString("base64"); };
function global_Buffer() { return globalThis.Buffer; } // an old package's global Buffer
module.exports = Bus;`,
	}})
	files := map[string][]byte{
		"package.json": []byte(`{"dependencies":{"bus":"^2","uses-node":"1"}}`),
		"src/index.ts": []byte(`import Bus from "bus";
import { b } from "uses-node";
import path from "node:path";
import { createHash } from "crypto";
export default {
  run(): unknown {
    const bus = new Bus();
    let got = "";
    bus.on("data", (h: string) => { got = h; });
    bus.send("hi");
    return [got, b.from("x").toString("base64"), path.join("a", "../b"), createHash("sha1").update("").digest("hex"), bus.b64("ok")];
  },
};`),
	}
	b := bundle.New(bundle.Options{Registry: reg.URL, CacheDir: t.TempDir()})
	res, err := b.Build(context.Background(), bundle.Project{Files: files, CompatibilityFlags: []string{"nodejs_compat"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := string(res.Code.Modules["index.js"].Content); !strings.Contains(m, `from "node:path"`) || !strings.Contains(m, `from "node:crypto"`) {
		t.Fatalf("imports of Node built-ins should stay imports of node:*:\n%s", m)
	}
	r, err := loadCode(t, res.Code).Call(context.Background(), "run", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal(r.Value, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"6869", "eA==", "b", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "b2s="}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Without the flag, the error names the built-in and the package that required it.
	_, err = b.Build(context.Background(), bundle.Project{Files: map[string][]byte{
		"package.json": files["package.json"], "index.js": []byte(`import Bus from "bus"; export default { Bus }`)}})
	if isoerr.CodeOf(err) != isoerr.BundleFailed || !strings.Contains(err.Error(), `"node:events" is a Node.js built-in module, imported by package bus@2.1.0 (bus@2.1.0/lib/bus.js): it needs the nodejs_compat compatibility flag`) {
		t.Fatalf("without nodejs_compat: %v", err)
	}
}
