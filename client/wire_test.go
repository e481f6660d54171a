package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/isoerr"
)

// A program that uses the client compiles the wire contract and nothing else of isobox:
// no engine, no loader, no wazero.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/isobox/isobox/client": true,
		"github.com/isobox/isobox/api":    true,
		"github.com/isobox/isobox/isoerr": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("client depends on %s; it may use only the standard library, api and isoerr", p)
		}
	}
}

// Error codes have one name each, in package isoerr: the client defines none of its own.
func TestNoOwnErrorCodes(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for _, v := range vs.Values {
				if sel, ok := v.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "isoerr" {
						t.Errorf("client declares %s = isoerr.%s: use the isoerr name", vs.Names[0].Name, sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
}

// An answer larger than the client's limit is a typed error, whichever method reads it.
func TestAnswersAreBounded(t *testing.T) {
	const limit = 64 << 10
	big := strings.Repeat("x", 4*limit)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/logs") {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: 1\nevent: log\ndata: {\"seq\":1,\"message\":\"%s\"}\n\n", big)
			return
		}
		// A well-formed answer of each kind, padded past the limit.
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "logs": []any{}, "result": big, "workers": []any{}})
	}))
	defer srv.Close()
	c, err := New(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithMaxResponseBytes(limit)
	ctx := context.Background()
	calls := map[string]func() error{
		"Do":          func() error { return c.Do(ctx, "GET", "/v1/workers", nil, &json.RawMessage{}) },
		"ListWorkers": func() error { _, err := c.ListWorkers(ctx, ListOptions{}); return err },
		"Fetch":       func() error { _, err := c.Fetch(ctx, "w", api.FetchRequest{}); return err },
		"Run":         func() error { _, err := c.Eval(ctx, "1", nil); return err },
		"Execute":     func() error { _, err := c.Execute(ctx, api.ExecuteRequest{Code: "1"}); return err },
		"MCP":         func() error { _, err := c.MCP(ctx, json.RawMessage(`{}`)); return err },
		"Metrics":     func() error { _, err := c.Metrics(ctx); return err },
		"FollowLogs": func() error {
			s, err := c.FollowLogs(ctx, "w", 0)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.Next()
			return err
		},
	}
	for name, call := range calls {
		err := call()
		var tl *ResponseTooLargeError
		if !errors.As(err, &tl) || tl.Limit != limit || !strings.Contains(err.Error(), "WithMaxResponseBytes") {
			t.Errorf("%s: error %v, want a *ResponseTooLargeError with limit %d", name, err, limit)
		}
	}
	// Under the limit, the same answers decode.
	c = c.WithMaxResponseBytes(0)
	if out, err := c.Fetch(ctx, "w", api.FetchRequest{}); err != nil || len(out.Result) != len(big)+2 {
		t.Errorf("a 256 KiB answer under the default limit: %v", err)
	}
	if s, err := c.FollowLogs(ctx, "w", 0); err != nil {
		t.Error(err)
	} else if e, err := s.Next(); err != nil || len(e.Message) != len(big) {
		t.Errorf("a 256 KiB log event under the default limit: %v", err)
	}
}

// Ids that break the rule of worker ids (api.CheckWorkerID) and bad secret names fail
// before anything is sent, with the same invalid_request the server would answer.
func TestNamesCheckedBeforeSending(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "k")
	ctx := context.Background()
	for _, id := range []string{"", "a/b", "../x", "-x", "a b", strings.Repeat("a", 129), "a@v1"} {
		errs := []error{}
		_, err := c.PutWorker(ctx, id, api.WorkerCode{})
		errs = append(errs, err)
		_, err = c.GetWorker(ctx, id)
		errs = append(errs, err, c.DeleteWorker(ctx, id))
		_, err = c.Fetch(ctx, id, api.FetchRequest{})
		errs = append(errs, err)
		_, err = c.Call(ctx, id, "m")
		errs = append(errs, err)
		_, err = c.Forward(ctx, id, "GET", "/", nil, nil)
		errs = append(errs, err)
		_, err = c.Logs(ctx, id, 0)
		errs = append(errs, err)
		_, err = c.FollowLogs(ctx, id, 0)
		errs = append(errs, err)
		_, err = c.EgressAudit(ctx, id, 0)
		errs = append(errs, err)
		for i, err := range errs {
			if isoerr.CodeOf(err) != isoerr.InvalidRequest || !strings.Contains(err.Error(), "invalid worker id") {
				t.Errorf("id %q, call %d: %v", id, i, err)
			}
		}
	}
	for _, name := range []string{"", "a:b", "a/b", "{{x}}"} {
		if err := c.PutSecret(ctx, name, "v"); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("PutSecret(%q): %v", name, err)
		}
		if err := c.DeleteSecret(ctx, name); isoerr.CodeOf(err) != isoerr.InvalidRequest {
			t.Errorf("DeleteSecret(%q): %v", name, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
	// A valid id is sent as it is.
	if _, err := c.GetWorker(ctx, "tenant:app.v2_x-1"); err == nil || requests.Load() != 1 {
		t.Fatalf("valid id: %v, %d requests", err, requests.Load())
	}
}
