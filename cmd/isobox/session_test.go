package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every eval that `isobox serve` acknowledged survives a kill -9 of the process, and so do
// acknowledged creations and forks; calls in flight at the kill may or may not be there.
func TestSessionsSurviveKill9(t *testing.T) {
	bin := buildIsobox(t)
	data := t.TempDir()
	p := startServe(t, bin, "--data", data)
	const sessions, before = 3, 8
	for i := range sessions {
		if st, b, err := p.post("/v1/sessions", fmt.Sprintf(`{"name":"s%d"}`, i)); err != nil || st != 201 {
			t.Fatalf("create: %d %s %v", st, b, err)
		}
	}
	// Each session appends 0, 1, 2, ... to a global list, one eval at a time; the answer is
	// the list's new length. Acknowledged appends are recorded.
	var mu sync.Mutex
	acked := make([][]int, sessions)
	total := 0
	eval := func(s, i int) bool {
		st, b, err := p.post(fmt.Sprintf("/v1/sessions/s%d/eval", s), fmt.Sprintf(`{"code":"(globalThis.list ??= []).push(%d)"}`, i))
		if err != nil {
			return false // the process is gone
		}
		var o struct {
			OK     bool            `json:"ok"`
			Result json.RawMessage `json:"result"`
		}
		if st != 200 || json.Unmarshal(b, &o) != nil || !o.OK || string(o.Result) != strconv.Itoa(i+1) {
			t.Errorf("session s%d eval %d: %d %s", s, i, st, b)
			return false
		}
		mu.Lock()
		acked[s] = append(acked[s], i)
		total++
		mu.Unlock()
		return true
	}
	for s := range sessions {
		for i := range before {
			eval(s, i)
		}
	}
	if st, b, err := p.post("/v1/sessions/s0/fork", `{"name":"f0"}`); err != nil || st != 201 {
		t.Fatalf("fork: %d %s %v", st, b, err)
	}
	// Then every session keeps evaluating, concurrently, while the process is killed.
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := before; eval(s, i); i++ {
			}
		}()
	}
	deadline := time.Now().Add(hangGuard)
	for {
		mu.Lock()
		n := total
		mu.Unlock()
		if n >= sessions*(before+10) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d evals were acknowledged in 2 minutes", n)
		}
		time.Sleep(time.Millisecond)
	}
	p.kill(t)
	wg.Wait()

	p = startServe(t, bin, "--data", data)
	for s := range sessions {
		st, b, err := p.post(fmt.Sprintf("/v1/sessions/s%d/eval", s), `{"code":"list"}`)
		var o struct {
			Result []int `json:"result"`
		}
		if err != nil || st != 200 || json.Unmarshal(b, &o) != nil {
			t.Fatalf("session s%d after the kill: %d %s %v", s, st, b, err)
		}
		// Exactly what was acknowledged, plus at most the one eval in flight at the kill.
		got, want := o.Result, acked[s]
		if len(got) < len(want) || len(got) > len(want)+1 || !equalInts(got[:len(want)], want) {
			t.Fatalf("session s%d after kill -9 holds %v; %d evals were acknowledged: %v", s, got, len(want), want)
		}
		t.Logf("session s%d: %d evals acknowledged before the kill, %d kept", s, len(want), len(got))
	}
	st, b, err := p.post("/v1/sessions/f0/eval", `{"code":"list"}`)
	if err != nil || st != 200 || !bytes.Contains(b, []byte(`"result":[0,1,2,3,4,5,6,7]`)) {
		t.Fatalf("the fork after kill -9: %d %s %v", st, b, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// `isobox eval --session` runs only in a session that exists; `isobox session create`
// makes one.
func TestEvalSessionMustExist(t *testing.T) {
	data := t.TempDir()
	steps := []struct {
		args    []string
		out     string
		errPart string
		code    int
	}{
		{[]string{"eval", "--data", data, "--session", "nosuch", "1"}, "", "not_found", 1},
		{[]string{"session", "--data", data, "list"}, "", "", 0},
		{[]string{"session", "--data", data, "create", "s1"}, "", "", 0},
		{[]string{"session", "--data", data, "create", "s1"}, "", "already exists", 1},
		{[]string{"eval", "--data", data, "--session", "s1", "let n = 1; n"}, "1\n", "", 0},
		{[]string{"session", "--data", data, "list"}, "s1\n", "", 0},
		// Limits given at creation hold for every eval; an eval cannot raise them, and a
		// call a limit stopped leaves the session as it was.
		{[]string{"session", "--data", data, "create", "--cpu-ms", "20", "lim"}, "", "", 0},
		{[]string{"eval", "--data", data, "--session", "lim", "var v = 1"}, "undefined\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "lim", "--cpu-ms", "30000", "v = 2; while (true) {}"}, "", "20ms; the session was restored to its state before this call", 1},
		{[]string{"eval", "--data", data, "--session", "lim", "v"}, "1\n", "", 0},
		{[]string{"eval", "--data", data, "--session", "lim", "--memory-mb", "64", "v"}, "", "invalid_request", 1},
		{[]string{"session", "--data", data, "list", "--cpu-ms", "5"}, "", "create only", 2},
	}
	for _, s := range steps {
		out, errs, code := cli(t, s.args...)
		if out != s.out || code != s.code || !strings.Contains(errs, s.errPart) {
			t.Fatalf("isobox %q: exit %d stdout %q stderr %q; want exit %d stdout %q stderr with %q", s.args, code, out, errs, s.code, s.out, s.errPart)
		}
	}
}
