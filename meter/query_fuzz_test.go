package meter

import (
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
)

// FuzzParseDay: a day from a request's query either parses to a UTC midnight whose
// YYYY-MM-DD form parses back to itself, or is refused with invalid_request.
func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"2026-12-02", "2026-02-30", "2026-12-02T23:30:00-02:00", "0000-01-01", "9999-12-31",
		"yesterday", "", "2026-12-02'; DROP TABLE usage;--", "2026-12-02T00:00:00Z\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDay(s)
		if err != nil {
			if isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("%q: %v is not a UTC midnight", s, d)
		}
		back, err := ParseDay(day(d))
		if err != nil || !back.Equal(d) {
			t.Fatalf("%q: %v -> %q -> %v, %v", s, d, day(d), back, err)
		}
	})
}
