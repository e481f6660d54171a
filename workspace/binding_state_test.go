package workspace_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// The state operations through a binding: each answers, and a read-only binding refuses
// every change but a dry run.
func TestBindingsServeStateOps(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	fs := workspace.Bindings(s, map[string]api.Binding{"FS": {Workspace: "p"}, "RO": {Workspace: "p", ReadOnly: true}})
	put(t, s, "p", "a.txt", "hello TODO\n")
	put(t, s, "p", "c.json", `{"n":1}`)
	for _, c := range []struct {
		binding, op, args, want string // want: a substring of the answer
		code                    isoerr.Code
	}{
		{"RO", "queryjson", `{"path":"c.json","query":"n"}`, `{"found":true,"value":1}`, ""},
		{"RO", "queryjson", `{"path":"c.json","query":"m"}`, `{"found":false}`, ""},
		{"RO", "updatejson", `{"path":"c.json","update":{"op":"set","path":"n","value":2}}`, "", isoerr.ReadOnly},
		{"FS", "updatejson", `{"path":"c.json","update":{"op":"set","path":"n","value":2}}`, `"path":"/c.json"`, ""},
		{"FS", "updatejson", `{"path":"c.json"}`, "", isoerr.InvalidRequest},
		{"RO", "search", `{"pattern":"TODO","contextLines":1}`, `"line":1,"column":7,"text":"hello TODO"`, ""},
		{"RO", "findfiles", `{"glob":"*.json"}`, `"path":"/c.json"`, ""},
		{"RO", "replace", `{"path":"a.txt","search":"TODO","replace":"DONE","dryRun":true}`, `"count":1`, ""},
		{"RO", "replace", `{"path":"a.txt","search":"TODO","replace":"DONE"}`, "", isoerr.ReadOnly},
		{"FS", "replace", `{"path":"a.txt","search":"TODO"}`, "", isoerr.InvalidRequest},
		{"RO", "replaceall", `{"glob":"*.txt","search":"TODO","replace":"x"}`, "", isoerr.ReadOnly},
		{"FS", "replaceall", `{"glob":"*.txt","search":"hello","replace":"bye"}`, `"replacements":1`, ""},
		{"RO", "diff", `{"path":"a.txt","text":"x\n"}`, `+x`, ""},
		{"RO", "diff", `{"path":"a.txt","to":"a.txt"}`, `""`, ""},
		{"RO", "hash", `{"path":"a.txt","algo":"md5"}`, `"`, ""},
		{"RO", "archive", `{"paths":["a.txt"],"to":"a.tgz"}`, "", isoerr.ReadOnly},
		{"FS", "archive", `{"paths":["a.txt","c.json"],"to":"a.tgz"}`, `"path":"/a.tgz"`, ""},
		{"RO", "extract", `{"path":"a.tgz","to":"x"}`, "", isoerr.ReadOnly},
		{"FS", "extract", `{"path":"a.tgz","to":"x"}`, `"files":2`, ""},
		{"FS", "search", `{"pattern":"(","regex":true}`, "", isoerr.InvalidRequest},
		{"FS", "search", `[1]`, "", isoerr.InvalidRequest},
	} {
		got, err := fs(ctx, c.binding, c.op, json.RawMessage(c.args))
		if c.code != "" {
			if isoerr.CodeOf(err) != c.code {
				t.Errorf("%s %s %s: %v, want %s", c.binding, c.op, c.args, err, c.code)
			}
			continue
		}
		if err != nil || !strings.Contains(string(got), c.want) {
			t.Errorf("%s %s %s = %s, %v; want it to hold %s", c.binding, c.op, c.args, got, err, c.want)
		}
	}
	if got := cat(t, s, "p", "x/a.txt"); got != "bye TODO\n" {
		t.Errorf("extracted a.txt = %q", got)
	}
}
