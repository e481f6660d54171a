package engine

import (
	"encoding/json"
	"reflect"
	"testing"
)

// completionSeeds are completion headers as the runtime writes them and as a hostile guest
// could: the fast path must either decline them or read them as encoding/json does.
var completionSeeds = []string{
	`{"ok":true}`,
	`{"ok":true,"status":200,"statusText":"","headers":[]}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["content-type","text/plain;charset=UTF-8"]]}`,
	`{"ok":true,"status":404,"statusText":"Not Found","headers":[["a","1"],["b","2"],["a","3"]]}`,
	`{"ok":true,"status":599,"statusText":"x","headers":[["x-e",""]]}`,
	`{"ok":true,"streamed":true}`,
	`{"ok":true,"result":{"a":1}}`,
	`{"ok":false,"code":"internal_error","error":{"name":"Error","message":"m","stack":""}}`,
	// hostile or unusual: each must be declined or agree
	`{"ok":true,"status":0200,"statusText":"","headers":[]}`,
	`{"ok":true,"status":1000,"statusText":"","headers":[]}`,
	`{"ok":true,"status":-1,"statusText":"","headers":[]}`,
	`{"ok":true,"status":200,"statusText":"\u0041","headers":[]}`,
	`{"ok":true,"status":200,"statusText":"a\"b","headers":[]}`,
	`{"ok":true,"status":200,"statusText":"é","headers":[]}`,
	"{\"ok\":true,\"status\":200,\"statusText\":\"\x00\",\"headers\":[]}",
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b","c"]]}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["a"]]}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b"],]}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b"]]} `,
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b"]]}}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b"]`,
	`{"ok":true,"status":200,"statusText":"","headers":[],"ok":false}`,
	`{"ok":true,"status":200,"statusText":"","headers":null}`,
	`{"ok":true,"status":200,"statusText":"","headers":[[1,2]]}`,
	`{"ok":true,"status":200 ,"statusText":"","headers":[]}`,
	`{"ok":true,"Status":200,"statusText":"","headers":[]}`,
	`{"ok":true,"code":"method_not_found"}`,
	`{"ok":true}x`,
	`{"ok":true`,
	`{"ok":truex}`,
	`{"ok":true,"status":200,"statusText":"","headers":[["a","b"]["c","d"]]}`,
}

func TestFastCompletionAgrees(t *testing.T) {
	accepted := 0
	for _, raw := range completionSeeds {
		if checkFastCompletion(t, []byte(raw)) {
			accepted++
		}
	}
	// The runtime's own two shapes take the fast path.
	for _, raw := range completionSeeds[:5] {
		if _, ok := fastCompletion([]byte(raw)); !ok {
			t.Errorf("fastCompletion declined the runtime's own %s", raw)
		}
	}
	if accepted != 5 {
		t.Errorf("fastCompletion accepted %d seeds, want the 5 the runtime writes", accepted)
	}
}

// checkFastCompletion fails t when fastCompletion accepts raw and reads it otherwise than
// encoding/json (or accepts what encoding/json refuses); it reports whether it accepted.
func checkFastCompletion(t *testing.T, raw []byte) bool {
	t.Helper()
	fc, ok := fastCompletion(raw)
	if !ok {
		return false
	}
	var jc completion
	if err := json.Unmarshal(raw, &jc); err != nil {
		t.Fatalf("fastCompletion accepted %q, which encoding/json refuses: %v", raw, err)
	}
	if !reflect.DeepEqual(fc, jc) {
		t.Fatalf("fastCompletion(%q) = %#v, encoding/json reads %#v", raw, fc, jc)
	}
	return true
}

func FuzzFastCompletion(f *testing.F) {
	for _, s := range completionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkFastCompletion(t, raw) })
}

func BenchmarkDecodeCompletion(b *testing.B) {
	raw := []byte(completionSeeds[2])
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			decodeCompletion(raw)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var c completion
			_ = json.Unmarshal(raw, &c)
		}
	})
}
