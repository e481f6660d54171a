package quota

import (
	"encoding/json"
	"testing"

	"github.com/isobox/isobox/isoerr"
)

// FuzzParse: a quota file either parses into limits that are all ≥ 0 and survive a JSON
// round trip unchanged, or is refused with invalid_request and no limits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"concurrentInvocations":50}`, `{"cpuMsPerDay":-1}`, `{"concurrent":1}`,
		`{"storageBytes":9223372036854775807}`, `{"uniqueWorkersPerDay":1e3}`, `null`, `[]`, `{"a":1} x`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			if isoerr.CodeOf(err) != isoerr.InvalidRequest || l != (Limits{}) {
				t.Fatalf("refusal %v with limits %+v", err, l)
			}
			return
		}
		if l.Validate() != nil {
			t.Fatalf("accepted invalid limits %+v", l)
		}
		out, _ := json.Marshal(l)
		back, err := Parse(out)
		if err != nil || back != l {
			t.Fatalf("round trip %s: %+v, %v", out, back, err)
		}
	})
}
