package engine

import "testing"

// An image's file holds its pages in at most restoreRuns runs; an image whose pages are
// scattered so widely that the runs would hold far more of the base image than of its
// own is restored by copying.
func TestImageFileRuns(t *testing.T) {
	pages := func(ps ...uint32) *Image {
		return &Image{pages: ps, data: make([]byte, len(ps)*osPage)}
	}
	seq := func(from, n uint32) []uint32 {
		var out []uint32
		for i := range n {
			out = append(out, from+i)
		}
		return out
	}
	for _, c := range []struct {
		name string
		img  *Image
		want []pageRun // nil: restored by copying
	}{
		{"no pages", pages(), nil},
		{"one page", pages(7), []pageRun{{7 * osPage, osPage}}},
		{"one run", pages(seq(10, 100)...), []pageRun{{10 * osPage, 100 * osPage}}},
		{"two runs", pages(append(seq(0, 50), seq(400, 50)...)...), []pageRun{{0, 50 * osPage}, {400 * osPage, 50 * osPage}}},
		{"merged across the smallest gaps", pages(append(append(append(append(seq(0, 10), seq(12, 10)...), seq(30, 10)...), seq(41, 10)...), seq(60, 10)...)...),
			[]pageRun{{0, 51 * osPage}, {60 * osPage, 10 * osPage}}},
		{"scattered", pages(1, 5000, 10000, 20000, 40000, 80000), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.img.fileRuns()
			if len(got) > restoreRuns {
				t.Fatalf("%d runs, more than restoreRuns (%d)", len(got), restoreRuns)
			}
			if len(got) != len(c.want) {
				t.Fatalf("runs %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("runs %v, want %v", got, c.want)
				}
			}
			// Every page of the image lies in a run.
			for _, p := range c.img.pages {
				if got == nil {
					break
				}
				in := false
				for _, r := range got {
					in = in || int(p)*osPage >= r.off && int(p)*osPage < r.off+r.n
				}
				if !in {
					t.Fatalf("page %d lies in no run of %v", p, got)
				}
			}
		})
	}
}
