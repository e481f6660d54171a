package engine

import (
	"reflect"
	"testing"
)

func TestMergeAndUnionRuns(t *testing.T) {
	p := func(off, n int) pageRun { return pageRun{off * osPage, n * osPage} }
	for _, tc := range []struct {
		name string
		in   []pageRun
		max  int
		want []pageRun
	}{
		{"under the bound", []pageRun{p(0, 1), p(6, 2)}, 2, []pageRun{p(0, 1), p(6, 2)}},
		{"gaps of fillGap pages filled under the bound", []pageRun{p(0, 1), p(5, 2), p(8, 1), p(20, 1)}, 8, []pageRun{p(0, 9), p(20, 1)}},
		{"smallest gap merged", []pageRun{p(0, 1), p(2, 1), p(10, 1)}, 2, []pageRun{p(0, 3), p(10, 1)}},
		{"all into one", []pageRun{p(0, 1), p(2, 1), p(10, 1)}, 1, []pageRun{p(0, 11)}},
		{"largest gaps kept", []pageRun{p(0, 1), p(50, 1), p(52, 1), p(54, 1), p(100, 1)}, 3, []pageRun{p(0, 1), p(50, 5), p(100, 1)}},
	} {
		if got := mergeRuns(tc.in, tc.max); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: mergeRuns = %v, want %v", tc.name, got, tc.want)
		}
	}
	got := unionRuns([]pageRun{p(8, 2), p(0, 2), p(1, 3), p(4, 1), p(20, 1)})
	if want := []pageRun{p(0, 5), p(8, 2), p(20, 1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("unionRuns = %v, want %v", got, want)
	}
}
