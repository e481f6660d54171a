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
