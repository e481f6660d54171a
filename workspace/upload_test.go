package workspace_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// The upload operation (streamed writes) takes whatever a sandbox sends: unknown or
// foreign handles, bad base64, oversized chunks, more chunks than an upload may have,
// more uploads than a sandbox may hold open, a read-only binding, a bad path. Each is a
// typed error, and none leaves a file behind or corrupts one already there.
func TestUploadHostile(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "keep.txt", "old")
	fs := workspace.Bindings(s, map[string]api.Binding{"FS": {Workspace: "p"}, "OTHER": {Workspace: "q"}, "RO": {Workspace: "p", ReadOnly: true}})
	op := func(binding, args string) (json.RawMessage, error) {
		return fs(ctx, binding, "upload", json.RawMessage(args))
	}
	open := func(path string) string {
		t.Helper()
		v, err := op("FS", `{"action":"open","path":"`+path+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Upload string }
		if err := json.Unmarshal(v, &r); err != nil || len(r.Upload) != 32 {
			t.Fatalf("open answered %s (%v)", v, err)
		}
		return r.Upload
	}
	chunk := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

	// Refused before any content.
	for _, c := range []struct {
		binding, args string
		code          isoerr.Code
	}{
		{"RO", `{"action":"open","path":"a"}`, isoerr.ReadOnly},
		{"FS", `{"action":"open","path":"../../x"}`, isoerr.InvalidRequest},
		{"FS", `{"action":"open","path":"a\u0000b"}`, isoerr.InvalidRequest},
		{"FS", `{"action":"open","path":"/"}`, isoerr.Conflict},
		{"FS", `{"action":"open","path":"keep.txt","ifMatch":"v0"}`, isoerr.PreconditionFailed},
		{"FS", `{"action":"write","upload":"nope","data":""}`, isoerr.InvalidRequest},
		{"FS", `{"action":"commit","upload":""}`, isoerr.InvalidRequest},
		{"FS", `{"action":"frobnicate"}`, isoerr.InvalidRequest},
		{"FS", `not json`, isoerr.InvalidRequest},
	} {
		if _, err := op(c.binding, c.args); isoerr.CodeOf(err) != c.code {
			t.Errorf("%s %s: %v, want %s", c.binding, c.args, err, c.code)
		}
	}

	// Each bad chunk ends its upload with a typed error and nothing written.
	for _, c := range []struct {
		name, data string
		code       isoerr.Code
	}{
		{"not base64", `"!!!"`, isoerr.InvalidRequest},
		{"no data", `null`, isoerr.InvalidRequest},
		{"too large", `"` + chunk(make([]byte, workspace.MaxUploadChunk+1)) + `"`, isoerr.InvalidRequest},
	} {
		id := open("keep.txt")
		if _, err := op("FS", `{"action":"write","upload":"`+id+`","data":"`+chunk([]byte("new"))+`"}`); err != nil {
			t.Fatal(err)
		}
		if _, err := op("FS", `{"action":"write","upload":"`+id+`","data":`+c.data+`}`); isoerr.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if _, err := op("FS", `{"action":"commit","upload":"`+id+`"}`); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("%s: commit after the failure: %v, want invalid_request (no such upload)", c.name, err)
		}
		if got := cat(t, s, "p", "keep.txt"); got != "old" {
			t.Fatalf("%s: keep.txt = %q", c.name, got)
		}
	}

	// A handle works only through the binding that opened it.
	id := open("x.txt")
	if _, err := op("OTHER", `{"action":"write","upload":"`+id+`","data":""}`); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("another binding's handle: %v", err)
	}
	if _, err := op("FS", `{"action":"abort","upload":"`+id+`"}`); err != nil {
		t.Fatal(err)
	}

	// More chunks than an upload may have: a hostile sender of one-byte chunks stops at
	// 65,536 host operations.
	id = open("many.bin")
	one := `{"action":"write","upload":"` + id + `","data":"` + chunk([]byte("x")) + `"}`
	var err error
	n := 0
	for ; n <= 1<<16 && err == nil; n++ {
		_, err = op("FS", one)
	}
	if isoerr.CodeOf(err) != isoerr.InvalidRequest || n != 1<<16+1 {
		t.Errorf("after %d chunks: %v", n, err)
	}

	// At most 16 uploads open at once; an ended one frees its place.
	var ids []string
	for i := range 16 {
		ids = append(ids, open("f"+strings.Repeat("x", i)))
	}
	if _, err := op("FS", `{"action":"open","path":"g"}`); isoerr.CodeOf(err) != isoerr.Overloaded {
		t.Errorf("a 17th upload: %v, want overloaded", err)
	}
	for _, id := range ids {
		if _, err := op("FS", `{"action":"abort","upload":"`+id+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	id = open("done.txt")
	if _, err := op("FS", `{"action":"write","upload":"`+id+`","data":"`+chunk([]byte("done"))+`"}`); err != nil {
		t.Fatal(err)
	}
	v, err := op("FS", `{"action":"commit","upload":"`+id+`"}`)
	if err != nil || !strings.Contains(string(v), `"size":4`) {
		t.Fatalf("commit: %s %v", v, err)
	}
	if got := cat(t, s, "p", "done.txt"); got != "done" {
		t.Fatalf("done.txt = %q", got)
	}
	list, err := s.ReadDir(ctx, "p", "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 { // keep.txt and done.txt: no aborted upload left a file
		t.Errorf("the workspace holds %v", list)
	}
}
