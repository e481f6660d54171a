package workspace_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestBindingsServe(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	fs := workspace.Bindings(s, map[string]api.Binding{"FS": {Workspace: "p"}, "RO": {Workspace: "p", ReadOnly: true}})
	w, err := fs(ctx, "FS", "write", json.RawMessage(`{"path":"a.txt","data":"aGk=","base64":true}`))
	if err != nil {
		t.Fatal(err)
	}
	var info workspace.Info
	if err := json.Unmarshal(w, &info); err != nil || info.ETag == "" {
		t.Fatalf("write answered %s", w)
	}
	tag := `,"etag":"` + info.ETag + `"}`
	for _, c := range []struct {
		binding, op, args, want string
		code                    isoerr.Code
	}{
		{"RO", "read", `{"path":"a.txt"}`, `{"data":"hi"` + tag, ""}, // the etag a later ifMatch can use
		{"RO", "read", `{"path":"a.txt","encoding":"bytes"}`, `{"data":"aGk="` + tag, ""},
		{"RO", "stat", `{"path":"missing"}`, `null`, ""},
		{"RO", "write", `{"path":"b","data":"x"}`, "", isoerr.ReadOnly},
		{"RO", "rm", `{"path":"a.txt"}`, "", isoerr.ReadOnly},
		{"RO", "mv", `{"from":"a.txt","to":"b"}`, "", isoerr.ReadOnly},
		{"FS", "write", `{"path":"b"}`, "", isoerr.InvalidRequest},
		{"FS", "write", `{"path":"b","data":"!!","base64":true}`, "", isoerr.InvalidRequest},
		{"FS", "rm", `{"path":"missing","force":true}`, `null`, ""},
		{"FS", "rm", `{"path":"missing"}`, "", isoerr.NotFound},
		{"FS", "chmod", `{}`, "", isoerr.InvalidRequest},
		{"FS", "read", `not json`, "", isoerr.InvalidRequest},
		{"other", "read", `{"path":"a.txt"}`, "", isoerr.InvalidRequest}, // not bound: reaches nothing
		// Ranges (readFile's stream): bytes only, a length of 1 to MaxReadAtOnce, the etag held.
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":1,"length":5}`, `{"data":"aQ==","etag":"` + info.ETag + `","size":2}`, ""},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":9,"length":5}`, `{"data":"","etag":"` + info.ETag + `","size":2}`, ""},
		{"RO", "read", `{"path":"a.txt","offset":0,"length":5}`, "", isoerr.InvalidRequest},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":0,"length":0}`, "", isoerr.InvalidRequest},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":0,"length":33554433}`, "", isoerr.InvalidRequest},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","length":5}`, "", isoerr.InvalidRequest},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":-1,"length":5}`, "", isoerr.InvalidRequest},
		{"RO", "read", `{"path":"a.txt","encoding":"bytes","offset":0,"length":5,"ifMatch":"v0"}`, "", isoerr.PreconditionFailed},
		{"RO", "rm", `{"path":"a.txt","ifMatch":"v0"}`, "", isoerr.ReadOnly},
		{"FS", "rm", `{"path":"a.txt","ifMatch":"v0"}`, "", isoerr.PreconditionFailed},
	} {
		got, err := fs(ctx, c.binding, c.op, json.RawMessage(c.args))
		if c.code != "" {
			if isoerr.CodeOf(err) != c.code {
				t.Errorf("%s %s %s: %v, want %s", c.binding, c.op, c.args, err, c.code)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s %s %s = %s, %v; want %s", c.binding, c.op, c.args, got, err, c.want)
		}
	}
}
