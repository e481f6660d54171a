package server

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/codemode"
)

// jsonShape maps the JSON field paths of t to their kinds, following structs, pointers,
// slices and maps.
func jsonShape(t reflect.Type, path string, out map[string]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.PkgPath() == "time" || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
			out[path] = t.String()
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if f.Anonymous && name == "" {
				jsonShape(f.Type, path, out)
				continue
			}
			if name == "" {
				name = f.Name
			}
			out[path+"."+name+","+opts] = f.Type.Kind().String()
			jsonShape(f.Type, path+"."+name, out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			jsonShape(t.Elem(), path+"[]", out)
		}
	case reflect.Map:
		jsonShape(t.Elem(), path+"{}", out)
	}
}

// The wire types of api that mirror a type of another package have its JSON shape, field
// for field (names, omitempty, kinds): the server writes the other type, clients decode
// the api one.
func TestWireTypesMatchTheirSources(t *testing.T) {
	for _, c := range []struct{ wire, source any }{
		// egress.Entry and codemode.Result are the api types themselves.
		{api.CodemodeLimits{}, codemode.Limits{}},
		{api.WorkerCode{}, codeBody{}},
	} {
		want, got := map[string]string{}, map[string]string{}
		jsonShape(reflect.TypeOf(c.source), "", want)
		jsonShape(reflect.TypeOf(c.wire), "", got)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%T%s is %s in %T, %q in the wire type", c.source, k, v, c.source, got[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%T%s is not in %T", c.wire, k, c.source)
			}
		}
	}
}

// The server's own request and answer types that hold what api holds in another form
// (code that may be absent, code as stored) have the api type's field names.
func TestServerBodiesHaveTheWireNames(t *testing.T) {
	names := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			out = append(out, typ.Field(i).Tag.Get("json"))
		}
		return out
	}
	for _, c := range []struct{ wire, server any }{
		{api.RunRequest{}, runBody{}},
		{api.Worker{}, workerJSON{}},
	} {
		if w, s := names(c.wire), names(c.server); !slices.Equal(w, s) {
			t.Errorf("%T has fields %q, %T %q", c.server, s, c.wire, w)
		}
	}
}

// The worker id, session name and secret name parameters of openapi.json document the
// rules of package api.
func TestOpenAPIIDPatternsAreTheRule(t *testing.T) {
	type param struct {
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema struct {
			Pattern string `json:"pattern"`
		} `json:"schema"`
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, ops := range doc.Paths {
		for key, raw := range ops {
			var params []param
			if key == "parameters" {
				json.Unmarshal(raw, &params)
			} else {
				var op struct {
					Parameters []param `json:"parameters"`
				}
				json.Unmarshal(raw, &op)
				params = op.Parameters
			}
			for _, p := range params {
				want := ""
				switch {
				case p.In == "path" && p.Name == "id" && (strings.HasPrefix(path, "/v1/workers/") || strings.HasPrefix(path, "/v1/sessions/")):
					want = api.IDPattern
				case p.In == "path" && p.Name == "name" && strings.HasPrefix(path, "/v1/secrets/"):
					want = api.SecretNamePattern
				default:
					continue
				}
				checked++
				if p.Schema.Pattern != want {
					t.Errorf("%s %s: {%s} has pattern %q, want %q", key, path, p.Name, p.Schema.Pattern, want)
				}
			}
		}
	}
	if checked < 13 {
		t.Fatalf("checked %d parameters; openapi.json has more", checked)
	}
	// The names a body gives a new session follow the same rule.
	var schemas struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Pattern string `json:"pattern"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &schemas); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SessionCreate", "SessionFork"} {
		if got := schemas.Components.Schemas[name].Properties["name"].Pattern; got != api.IDPattern {
			t.Errorf("%s.name has pattern %q, want %q", name, got, api.IDPattern)
		}
	}
}

// The schemas of openapi.json name the fields of the api types, no more, no fewer.
func TestOpenAPISchemasAreTheWireTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for schema, v := range map[string]any{
		"Error": api.ErrorBody{}, "Limits": api.Limits{}, "WorkerCode": api.WorkerCode{},
		"Worker": api.Worker{}, "WorkerList": api.WorkerList{}, "FetchRequest": api.FetchRequest{},
		"RunRequest": api.RunRequest{}, "LogLine": api.LogLine{}, "Outcome": api.Outcome{},
		"LogEntry": api.LogEntry{}, "LogList": api.LogList{}, "SecretValue": api.SecretValue{},
		"SecretList": api.SecretList{}, "EgressAudit": api.EgressAudit{},
		"CodemodeRequest": api.ExecuteRequest{}, "CodemodeLimits": api.CodemodeLimits{},
		"CodemodeCall": api.ToolCall{}, "CodemodeResult": api.ExecuteResult{},
		"SessionCreate": api.SessionOptions{}, "SessionFork": api.SessionFork{}, "SessionEval": api.SessionEvalRequest{},
		"SessionInfo": api.SessionInfo{}, "SessionList": api.SessionList{}, // SessionOutcome: allOf Outcome + rolledBack
		"Workspace": api.Workspace{}, "WorkspaceList": api.WorkspaceList{}, "WorkspaceQuota": api.WorkspaceQuota{},
		"FileInfo": api.FileInfo{}, "WorkspaceTree": api.WorkspaceTree{},
		"WorkspaceSearch": api.WorkspaceSearch{}, "SearchResult": api.SearchResult{}, "WorkspaceExec": api.ExecRequest{},
		"WorkspaceExecResult": api.ExecResult{}, "ExtractResult": api.ExtractResult{},
		"Tenant": api.Tenant{}, "TenantSettings": api.TenantSettings{}, "TenantList": api.TenantList{},
		"Key": api.Key{}, "KeyList": api.KeyList{}, "KeyRequest": api.KeyRequest{}, "NewKey": api.NewKey{},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("openapi.json has no schema %s", schema)
			continue
		}
		var documented []string
		for k := range s.Properties {
			documented = append(documented, k)
		}
		shape := map[string]string{}
		jsonShape(reflect.TypeOf(v), "", shape)
		var fields []string
		for k := range shape {
			name, _, field := strings.Cut(strings.TrimPrefix(k, "."), ",")
			if field && !strings.ContainsAny(name, ".[{") {
				fields = append(fields, name)
			}
		}
		sort.Strings(documented)
		sort.Strings(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("schema %s has properties %q, %T has %q", schema, documented, v, fields)
		}
	}
}
