package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// evalAnswer is the answer of POST /v1/sessions/{id}/eval as a client reads it.
type evalAnswer struct {
	OK         bool            `json:"ok"`
	Result     json.RawMessage `json:"result"`
	RolledBack bool            `json:"rolledBack"`
	Error      *isoerr.Error   `json:"error"`
}

// sessionEval posts code (and limits, when not "") to session id's eval route.
func (ts *testServer) sessionEval(t *testing.T, id, code, limits string) (int, evalAnswer) {
	t.Helper()
	body := map[string]any{"code": code}
	if limits != "" {
		body["limits"] = json.RawMessage(limits)
	}
	b, _ := json.Marshal(body)
	r := ts.raw(t, "POST", "/v1/sessions/"+id+"/eval", b, nil)
	var o evalAnswer
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("eval %q in %s: %d %s", code, id, r.status, r.body)
	}
	return r.status, o
}

// evalWant evaluates code in session id and fails unless it answers want.
func (ts *testServer) evalWant(t *testing.T, id, code, want string) {
	t.Helper()
	status, o := ts.sessionEval(t, id, code, "")
	if status != 200 || !o.OK || string(o.Result) != want {
		t.Fatalf("eval %q in %s: %d %+v, want %s", code, id, status, o, want)
	}
}

func (ts *testServer) createSession(t *testing.T, body string) rawResult {
	t.Helper()
	r := ts.raw(t, "POST", "/v1/sessions", []byte(body), nil)
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", body, r.status, r.body)
	}
	return r
}

// A call that a limit stops leaves no trace in the session: it goes back to its state
// before the call, and the outcome says so. A call that runs to its end (a value or an
// exception) keeps its effects.
func TestSessionRollsBackAfterALimit(t *testing.T) {
	ts := start(t, Config{})
	ts.createSession(t, `{"name":"r","limits":{"memoryMb":64}}`)
	ts.evalWant(t, "r", "y = 2", "2")
	for _, tt := range []struct {
		name, code, limits string
		want               isoerr.Code
	}{
		{"cpu", "y = 3; while (true) {}", `{"cpuMs":20}`, isoerr.CPULimitExceeded},
		{"wall", "async () => { y = 4; await new Promise(r => setTimeout(r, 1e9)) }", `{"wallMs":50}`, isoerr.WallTimeExceeded},
		// Filling memory and building 11 MiB of output take tens to hundreds of ms of CPU:
		// the most CPU there is, so that only the limit under test trips.
		{"memory", "y = 5; const keep = []; while (true) keep.push(new Uint8Array(1 << 20))", `{"cpuMs":30000}`, isoerr.MemoryLimitExceeded},
		{"output", "y = 6; 'x'.repeat(11 << 20)", `{"cpuMs":30000}`, isoerr.OutputLimitExceeded},
	} {
		status, o := ts.sessionEval(t, "r", tt.code, tt.limits)
		if status != 422 || o.Error == nil || o.Error.Code != tt.want {
			t.Fatalf("%s: %d %+v, want 422 %s", tt.name, status, o, tt.want)
		}
		if !o.RolledBack || !strings.Contains(o.Error.Message, "the session was restored to its state before this call") {
			t.Fatalf("%s: the outcome does not say the session was rolled back: %+v", tt.name, o.Error)
		}
		ts.evalWant(t, "r", "y", "2")
	}
	// An exception is the code's own outcome: its effects stay, nothing is rolled back.
	status, o := ts.sessionEval(t, "r", "y = 7; throw new Error('boom')", "")
	if status != 422 || o.Error == nil || o.Error.Code != isoerr.WorkerException || o.RolledBack {
		t.Fatalf("exception: %d %+v", status, o)
	}
	ts.evalWant(t, "r", "y", "7")
}

// Sessions take limits and an egress policy (globalOutbound) at creation; they hold for
// every eval, also after a restart. An eval's own limits can only lower the session's.
func TestSessionCreationOptions(t *testing.T) {
	var hits atomic.Int32
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("pong"))
	}))
	defer echo.Close()
	u, _ := url.Parse(echo.URL)
	allow := `{"rules":[{"action":"allow","host":"` + u.Hostname() + `","allowPrivate":true}]}`
	dir := t.TempDir()
	ts := start(t, Config{DataDir: dir})
	ts.createSession(t, `{"name":"net","globalOutbound":`+allow+`}`)
	ts.createSession(t, `{"name":"nonet"}`)
	// The wall ceiling is 25x the CPU one: on a busy one-core machine 20 ms of CPU took more
	// than 100 ms of wall time, and the wall limit tripped first.
	ts.createSession(t, `{"name":"tight","limits":{"cpuMs":20,"wallMs":500,"memoryMb":16}}`)
	ts.createSession(t, `{"name":"roomy","limits":{"cpuMs":30000}}`) // zeroing 64 MiB takes ~70 ms of CPU

	check := func(ts *testServer) {
		t.Helper()
		fetchCode := `async () => { const r = await fetch("` + echo.URL + `/ping"); return await r.text() }`
		ts.evalWant(t, "net", fetchCode, `"pong"`)
		status, o := ts.sessionEval(t, "net", `async () => (await fetch("http://denied.example/")).status`, "")
		if status != 422 || o.Error == nil || !strings.Contains(o.Error.Message, "egress_denied") {
			t.Fatalf("fetch to a host the policy does not allow: %d %+v", status, o)
		}
		status, o = ts.sessionEval(t, "nonet", fetchCode, "")
		if status != 422 || o.Error == nil || !strings.Contains(o.Error.Message, "egress_denied") {
			t.Fatalf("fetch from a session without a policy: %d %+v", status, o)
		}
		// The session's memory limit: 64 MiB does not fit in 16, fits in the default 128.
		big := "new Uint8Array(64 << 20).length"
		if status, o := ts.sessionEval(t, "tight", big, ""); status != 422 || o.Error == nil || o.Error.Code != isoerr.MemoryLimitExceeded {
			t.Fatalf("64 MiB in a 16 MiB session: %d %+v", status, o)
		}
		ts.evalWant(t, "roomy", big, "67108864")
		// The session's limits are a ceiling: an eval asking for more still stops at them.
		status, o = ts.sessionEval(t, "tight", "while (true) {}", `{"cpuMs":30000}`)
		if status != 422 || o.Error == nil || o.Error.Code != isoerr.CPULimitExceeded || !strings.Contains(o.Error.Message, "20ms") {
			t.Fatalf("cpu ceiling: %d %+v", status, o)
		}
		status, o = ts.sessionEval(t, "tight", "async () => { await new Promise(r => setTimeout(r, 1e9)) }", `{"wallMs":900000}`)
		if status != 422 || o.Error == nil || o.Error.Code != isoerr.WallTimeExceeded || !strings.Contains(o.Error.Message, "500ms") {
			t.Fatalf("wall ceiling: %d %+v", status, o)
		}
		// ... and an eval can lower them.
		status, o = ts.sessionEval(t, "roomy", "while (true) {}", `{"cpuMs":10}`)
		if status != 422 || o.Error == nil || !strings.Contains(o.Error.Message, "10ms") {
			t.Fatalf("an eval's lower limit: %d %+v", status, o)
		}
	}
	check(ts)
	ts.stop(t)
	check(start(t, Config{DataDir: dir})) // the options are kept with the session
	if n := hits.Load(); n != 2 {
		t.Fatalf("the allowed host got %d requests, want 2", n)
	}
}

// Bad creation bodies are 400 invalid_request, and nothing is created.
func TestSessionBadCreation(t *testing.T) {
	ts := start(t, Config{})
	for _, body := range []string{
		`null`, `[]`, `"x"`, `42`, `true`,
		`{"name":"bad name"}`,
		`{"name":"x","limits":{"cpuMs":-1}}`,
		`{"name":"x","limits":{"cpuMs":999999}}`,
		`{"name":"x","limits":{"memoryMb":1}}`,
		`{"name":"x","globalOutbound":{"rules":[{"action":"frob"}]}}`,
		`{"name":"x","globalOutbound":[]}`,
		`{"name":"x","nope":1}`,
	} {
		r := ts.raw(t, "POST", "/v1/sessions", []byte(body), nil)
		if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest {
			t.Errorf("create %s: %d %s, want 400 invalid_request", body, r.status, r.body)
		}
	}
	for _, body := range []string{`null`, `[]`, `7`} {
		ts.createSession(t, `{"name":"src"}`)
		r := ts.raw(t, "POST", "/v1/sessions/src/fork", []byte(body), nil)
		if r.status != 400 || r.err == nil || r.err.Code != isoerr.InvalidRequest {
			t.Errorf("fork %s: %d %s, want 400 invalid_request", body, r.status, r.body)
		}
		ts.raw(t, "DELETE", "/v1/sessions/src", nil, nil)
	}
	r := ts.raw(t, "GET", "/v1/sessions", nil, nil)
	if r.status != 200 || string(r.body) != `{"sessions":[]}`+"\n" {
		t.Fatalf("bad bodies created sessions: %s", r.body)
	}
	// An empty body still makes a session with a generated name.
	ts.createSession(t, ``)
}

// The create answer, the fork answer and the list name a session the same way.
func TestSessionAnswersAgree(t *testing.T) {
	ts := start(t, Config{})
	fields := func(b []byte) map[string]json.RawMessage {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return m
	}
	created := fields(ts.createSession(t, `{"name":"a"}`).body)
	r := ts.raw(t, "POST", "/v1/sessions/a/fork", []byte(`{"name":"b"}`), nil)
	if r.status != 201 {
		t.Fatalf("fork: %d %s", r.status, r.body)
	}
	forked := fields(r.body)
	var list struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	if err := json.Unmarshal(ts.raw(t, "GET", "/v1/sessions", nil, nil).body, &list); err != nil || len(list.Sessions) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, tt := range []struct {
		what string
		m    map[string]json.RawMessage
		want string
	}{{"create", created, `"a"`}, {"fork", forked, `"b"`}, {"list[0]", list.Sessions[0], `"a"`}, {"list[1]", list.Sessions[1], `"b"`}} {
		if _, id := tt.m["id"]; string(tt.m["name"]) != tt.want || id {
			t.Errorf("%s answer %v: want the field name = %s (and no id)", tt.what, tt.m, tt.want)
		}
	}
}
