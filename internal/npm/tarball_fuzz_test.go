package npm_test

import (
	"archive/tar"
	"path"
	"strings"
	"testing"

	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/internal/npm/npmtest"
	"github.com/isobox/isobox/isoerr"
)

// Whatever the bytes, Unpack either refuses them with bundle_failed or returns files whose
// paths are clean, relative, inside the package and within the limits.
func FuzzUnpack(f *testing.F) {
	good, _ := npmtest.Pack(map[string]string{"package.json": "{}", "lib/a.js": "x"})
	f.Add(good)
	for _, es := range [][]npmtest.Entry{
		{{Name: "package/package.json", Body: []byte("{}")}, {Name: "package/../x", Body: []byte("x")}},
		{{Name: "package/package.json", Body: []byte("{}")}, {Name: "package/l", Type: tar.TypeSymlink, Linkname: "../../etc"}},
		{{Name: "/abs", Body: []byte("{}")}},
		{{Name: "package/./a/../package.json", Body: []byte("{}")}},
	} {
		tgz, _ := npmtest.PackEntries(es)
		f.Add(tgz)
	}
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	lim := npm.Limits{FileBytes: 1 << 16, UnpackedBytes: 1 << 18, Files: 64, PathLength: 128, PathDepth: 6}
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := npm.Unpack("p@1.0.0", b, lim)
		if err != nil {
			if isoerr.CodeOf(err) != isoerr.BundleFailed {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(files) > lim.Files {
			t.Fatalf("%d files", len(files))
		}
		total := 0
		for name, body := range files {
			total += len(body)
			if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\x00") {
				t.Fatalf("unsafe path %q", name)
			}
		}
		if int64(total) > lim.UnpackedBytes {
			t.Fatalf("%d bytes unpacked", total)
		}
	})
}
