package openapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/openapi"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

var (
	update   = flag.Bool("update", false, "rewrite testdata/*.golden")
	executor *codemode.Executor
)

func TestMain(m *testing.M) {
	enginetest.LoaderMain(m, func(l *loader.Loader) { executor = codemode.NewExecutor(l) })
}

const token = "petstore-secret-token-0123456789"

type pet struct {
	ID   int     `json:"id"`
	Name string  `json:"name"`
	Tag  *string `json:"tag"`
	Kind *string `json:"kind,omitempty"`
}

// petStore is the real HTTP API the document describes; it insists on the bearer token.
type petStore struct {
	mu     sync.Mutex
	pets   map[int]pet
	next   int
	header http.Header // of the last request
}

func newPetStore(t *testing.T) (*petStore, string) {
	ps := &petStore{pets: map[int]pet{1: {ID: 1, Name: "Rex"}}, next: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/pets", func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		out := []pet{}
		for id := 1; id < ps.next; id++ {
			if p, ok := ps.pets[id]; ok && (limit == 0 || len(out) < limit) {
				out = append(out, p)
			}
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("POST /v1/pets", func(w http.ResponseWriter, r *http.Request) {
		var p pet
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Name == "" {
			writeJSON(w, 400, map[string]any{"code": 400, "message": "a pet needs a name"})
			return
		}
		ps.mu.Lock()
		p.ID = ps.next
		ps.next++
		ps.pets[p.ID] = p
		ps.mu.Unlock()
		writeJSON(w, 201, p)
	})
	mux.HandleFunc("GET /v1/pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		ps.mu.Lock()
		p, ok := ps.pets[id]
		ps.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]any{"code": 404, "message": fmt.Sprintf("no pet %d", id)})
			return
		}
		writeJSON(w, 200, p)
	})
	mux.HandleFunc("DELETE /v1/pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		ps.mu.Lock()
		delete(ps.pets, id)
		ps.mu.Unlock()
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "you sent: "+r.Header.Get("Authorization"))
	})
	mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		writeJSON(w, 200, map[string]string{"q": r.PostForm.Get("q"), "kind": r.PostForm.Get("kind"), "ct": r.Header.Get("Content-Type")})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.header = r.Header.Clone()
		ps.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeJSON(w, 401, map[string]any{"code": 401, "message": "bad credentials"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return ps, srv.URL
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// newAPI is the pet store behind the egress gateway, which injects the token.
func newAPI(t *testing.T, base string) *openapi.API {
	t.Helper()
	doc, err := os.ReadFile("testdata/petstore.json")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := egress.ParsePolicy([]byte(`{"rules": [{"action": "allow", "host": "127.0.0.1", "allowPrivate": true,
		"path": "/v1", "injectHeaders": {"Authorization": "Bearer {{secret:petstore_token}}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := egress.New(egress.Config{Policy: policy, Secrets: egress.NewMemorySecrets(map[string]string{"petstore_token": token})})
	if err != nil {
		t.Fatal(err)
	}
	api, err := openapi.New(openapi.Config{Name: "petstore", Document: doc, BaseURL: base + "/v1", Transport: g})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func run(t *testing.T, api *openapi.API, code string, lim codemode.Limits) codemode.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	return executor.Execute(ctx, code, []codemode.Provider{api.Provider()}, codemode.Options{Limits: lim})
}

func wantError(t *testing.T, res codemode.Result, code isoerr.Code, contains ...string) {
	t.Helper()
	if res.Error == nil {
		t.Fatalf("no error; result %s", res.Result)
	}
	if res.Error.Code != code {
		t.Fatalf("error %v, want %s", res.Error, code)
	}
	for _, c := range contains {
		if !strings.Contains(res.Error.Message, c) {
			t.Errorf("error %q lacks %q", res.Error.Message, c)
		}
	}
}

// The TypeScript of the document: components become shared named types, nullable and
// exclusiveMinimum are translated, parameters and body are one input.
func TestTypesGolden(t *testing.T) {
	_, base := newPetStore(t)
	api := newAPI(t, base)
	got, err := codemode.Types(api.Provider())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile("testdata/petstore.golden", []byte(got), 0o644)
	}
	want, _ := os.ReadFile("testdata/petstore.golden")
	if got != string(want) {
		t.Errorf("testdata/petstore.golden differs (-update to rewrite):\n%s", got)
	}
	if len(api.Skipped) != 1 || !strings.Contains(api.Skipped[0], "PUT /pets/{petId}/photo: request body: media types image/png are not supported") {
		t.Errorf("skipped %q", api.Skipped)
	}
}

func TestCalls(t *testing.T) {
	ps, base := newPetStore(t)
	api := newAPI(t, base)
	t.Run("sequence and Promise.all", func(t *testing.T) {
		res := run(t, api, `async () => {
			const a = await petstore.createPet({ body: { name: "Tom", tag: null, kind: "cat" } });
			const b = await petstore.createPet({ body: { name: "Tweety", kind: "bird", age: 2 } });
			const [one, two, list, found] = await Promise.all([
				petstore.get_pet({ petId: a.id }),
				petstore.get_pet({ petId: b.id }),
				petstore.listPets({ limit: 2, tags: ["x", "y"], "X-Request-Id": "req-1" }),
				petstore.search({ body: { q: "tom", kind: "cat" } }),
			]);
			return { names: [one.name, two.name], listed: list.map(p => p.name), found };
		}`, codemode.Limits{})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if string(res.Result) != `{"names":["Tom","Tweety"],"listed":["Rex","Tom"],"found":{"ct":"application/x-www-form-urlencoded","kind":"cat","q":"tom"}}` {
			t.Fatalf("result %s", res.Result)
		}
		if len(res.Calls) != 6 || res.Calls[0].Name != "petstore.createPet" {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	t.Run("query and header parameters", func(t *testing.T) {
		res := run(t, api, `await petstore.listPets({ limit: 1, "X-Request-Id": "abc" })`, codemode.Limits{})
		if res.Error != nil || string(res.Result) != `[{"id":1,"name":"Rex","tag":null}]`+"\n" && string(res.Result) != `[{"id":1,"name":"Rex","tag":null}]` {
			t.Fatalf("%s %v", res.Result, res.Error)
		}
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if ps.header.Get("X-Request-Id") != "abc" {
			t.Errorf("header %v", ps.header)
		}
	})
	t.Run("204", func(t *testing.T) {
		res := run(t, api, `await petstore.deletePet({ petId: 1 })`, codemode.Limits{})
		if res.Error != nil || string(res.Result) != "null" {
			t.Fatalf("%s %v", res.Result, res.Error)
		}
	})
	t.Run("HTTP error", func(t *testing.T) {
		res := run(t, api, `await petstore.get_pet({ petId: 999 })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "petstore.get_pet: GET /pets/999: HTTP 404 Not Found", `"message":"no pet 999"`)
	})
	t.Run("schema validation", func(t *testing.T) {
		res := run(t, api, `await petstore.createPet({ body: { name: "", kind: "fish", age: 0 } })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "petstore.createPet: invalid input", "input.body.name: minLength", "input.body.kind", "input.body.age: exclusiveMinimum")
		res = run(t, api, `await petstore.get_pet({})`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "missing property 'petId'")
	})
	t.Run("no such operation", func(t *testing.T) {
		res := run(t, api, `await petstore.updatePet({ petId: 1 })`, codemode.Limits{})
		wantError(t, res, isoerr.WorkerException, "petstore.updatePet is not a tool", "createPet, deletePet, get_pet, get_whoami, listPets, search")
	})
	t.Run("syntax error", func(t *testing.T) {
		res := run(t, api, "const p = await petstore.get_pet({ petId: 1 }\np.name", codemode.Limits{})
		wantError(t, res, isoerr.InvalidWorkerCode, "SyntaxError")
	})
	t.Run("loop forever", func(t *testing.T) {
		res := run(t, api, `const pets = await petstore.listPets(); while (pets) {}`, codemode.Limits{CPUMs: 100})
		wantError(t, res, isoerr.CPULimitExceeded)
		if len(res.Calls) != 1 || res.Calls[0].Error != "" {
			t.Errorf("calls %+v", res.Calls)
		}
	})
	// The code never sees the credential: not in its input, and the gateway redacts it
	// from what the API echoes back.
	t.Run("credentials stay in the host", func(t *testing.T) {
		res := run(t, api, `await petstore.get_whoami()`, codemode.Limits{})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if strings.Contains(string(res.Result), token) || !strings.Contains(string(res.Result), "[redacted]") {
			t.Fatalf("result %s", res.Result)
		}
		for _, c := range res.Calls {
			if strings.Contains(string(c.Result), token) {
				t.Fatalf("trace shows the token: %+v", c)
			}
		}
	})
}

// A request the policy does not allow is refused by the gateway, and the code is told why.
func TestPolicyDenies(t *testing.T) {
	_, base := newPetStore(t)
	doc, _ := os.ReadFile("testdata/petstore.json")
	policy, _ := egress.ParsePolicy([]byte(`{"rules": [{"action": "allow", "host": "127.0.0.1", "allowPrivate": true, "methods": ["GET"]}]}`))
	g, err := egress.New(egress.Config{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	api, err := openapi.New(openapi.Config{Name: "petstore", Document: doc, BaseURL: base + "/v1", Transport: g})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, api, `await petstore.createPet({ body: { name: "Tom" } })`, codemode.Limits{})
	wantError(t, res, isoerr.WorkerException, "petstore.createPet: POST /pets")
	res = run(t, api, `await petstore.get_pet({ petId: 1 })`, codemode.Limits{})
	wantError(t, res, isoerr.WorkerException, "HTTP 401") // allowed, but nothing injects the token
}

func TestBadDocuments(t *testing.T) {
	g, _ := egress.New(egress.Config{})
	for _, c := range []struct {
		doc, base, want string
	}{
		{`{`, "", "not JSON"},
		{`{"swagger": "2.0"}`, "", "Swagger 2.0"},
		{`{"openapi": "3.0.0", "paths": {}}`, "", "no absolute base URL"},
		{`{"openapi": "3.0.0", "servers": [{"url": "/api"}], "paths": {}}`, "", "no absolute base URL"},
	} {
		_, err := openapi.New(openapi.Config{Name: "x", Document: []byte(c.doc), BaseURL: c.base, Transport: g})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
	if _, err := openapi.New(openapi.Config{Name: "x", Document: []byte(`{"openapi":"3.1.0"}`), BaseURL: "https://x.test"}); err == nil {
		t.Error("no error without a transport")
	}
}
