package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/session"
)

// stateWasm is engine's test module of the same name (engine/wasmjs_snapshot_test.go), in
// base64: a memory, a mutable global that is not exported (bump adds one and answers it),
// and a start function that adds 100 to it.
const stateWasm = "AGFzbQEAAAABGwZgAAF/YAJ/fwBgAX8Bf2AAAGAAAX9gAX8BfwMHBgABAgMEBQQFAXABAQEFAwEAAQYGAX8BQQALBzIGBGJ1bXAAAARwb2tlAAEEcGVlawACBXNldmVuAAQIdmlhVGFibGUABQZtZW1vcnkCAAgBAwkHAQBBAAsBBAo3BgsAIwBBAWokACMACwkAIAAgAToAAAsHACAALQAACwoAIwBB5ABqJAALBABBBwsHACAAEQQACw=="

// A session that instantiated WebAssembly hibernates and resumes with the instance's state,
// also in a new manager on the same store (a restart), and forks.
func TestSessionWithWasmHibernates(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	m := newManager(t, dir, 30*time.Millisecond)
	create(t, m, "w", session.Options{})
	evalOK(t, m, "w", `const x = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.fromBase64("`+stateWasm+`"))).exports;
		x.poke(3, 7); [x.bump(), x.peek(3)]`, "[101,7]")
	deadline := time.Now().Add(time.Minute) // a hang guard
	for {
		list, _ := m.List(ctx)
		if len(list) == 1 && list[0].Hibernated && !list[0].Live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session never hibernated: %+v", list)
		}
		time.Sleep(5 * time.Millisecond)
	}
	evalOK(t, m, "w", "x.poke(3, x.peek(3) + 1); [x.bump(), x.peek(3)]", "[102,8]")
	if _, err := m.Fork(ctx, "w", "copy"); err != nil {
		t.Fatal(err)
	}
	evalOK(t, m, "copy", "[x.bump(), x.peek(3)]", "[103,8]")
	evalOK(t, m, "w", "[x.bump(), x.peek(3)]", "[103,8]")
	m.Close(ctx)
	m2 := newManager(t, dir, 0)
	evalOK(t, m2, "w", "[x.bump(), x.peek(3)]", "[104,8]")
	evalOK(t, m2, "copy", "[x.bump(), x.peek(3)]", "[104,8]")
}

// linkLibWasm and linkDispatchWasm are engine's test modules of those names
// (engine/wasmjs_link_test.go, wasmjs_snapshot_link_test.go): lib exports f1 () -> 1,
// f2 (i32) -> 2x and a funcref table; dispatch exports a funcref table holding at 0 a
// function it does not export, (i32) -> x + 100, and calli (index, x) calling an element.
const (
	linkLibWasm      = "AGFzbQEAAAABFARgAAF/YAF/AX9gAXABcGABcAF/AwUEAAECAwQFAXABAgoHHwUCZjEAAAJmMgABAmlkAAIGaXNudWxsAAMDdGJsAQAJBwEAQQALAQAKGQQEAEEBCwcAIABBAmwLBAAgAAsFACAA0Qs="
	linkDispatchWasm = "AGFzbQEAAAABDAJgAX8Bf2ACf38BfwMDAgABBAUBcAECCgcPAgVjYWxsaQABA3RibAEACQcBAEEACwEAChQCCAAgAEHkAGoLCQAgASAAEQAACw=="
)

// A session whose instances are linked through function references (another instance's
// function stored in a table, a function that is no export held by JavaScript) hibernates,
// resumes after a restart and forks with the links and the identities: the same calls reach
// the same functions, and === holds.
func TestSessionWithWasmLinksHibernates(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	m := newManager(t, dir, 30*time.Millisecond)
	create(t, m, "l", session.Options{})
	const check = `[D.calli(1, 21), D.calli(0, 1), D.tbl.get(1) === A.f2, h === D.tbl.get(0), h(2)]`
	const want = `[42,101,true,true,102]`
	evalOK(t, m, "l", `const A = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.fromBase64("`+linkLibWasm+`"))).exports;
		const D = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.fromBase64("`+linkDispatchWasm+`"))).exports;
		D.tbl.set(1, A.f2); const h = D.tbl.get(0); `+check, want)
	deadline := time.Now().Add(time.Minute) // a hang guard
	for {
		list, _ := m.List(ctx)
		if len(list) == 1 && list[0].Hibernated && !list[0].Live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session never hibernated: %+v", list)
		}
		time.Sleep(5 * time.Millisecond)
	}
	evalOK(t, m, "l", check, want)
	if _, err := m.Fork(ctx, "l", "copy"); err != nil {
		t.Fatal(err)
	}
	evalOK(t, m, "copy", "D.tbl.set(1, h); "+check, `[121,101,false,true,102]`)
	evalOK(t, m, "l", check, want)
	m.Close(ctx)
	m2 := newManager(t, dir, 0)
	evalOK(t, m2, "l", check, want)
	evalOK(t, m2, "copy", check, `[121,101,false,true,102]`)
}
