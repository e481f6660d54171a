package engine

import (
	"cmp"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/isobox/isobox/engine/js"
)

// The base image (a sandbox with the runtime evaluated, see makeBaseImage) is the same in
// every process of a build, so the first process with a cache directory keeps it there and
// later ones map it instead of starting QuickJS and evaluating the runtime (4–8 ms, most of
// what a new `isobox eval` process did after compiling; RATIONALE §57).
//
// The file is the image's memory, unchanged, so that sandboxes map it copy-on-write
// directly (its first byte is the memory's), then a trailer:
//
//	magic [8] | SHA-256 of the memory [32] | dead stack offset, length [4+4] | memory length [8] | CRC-32C of all before it [4]
//
// The CRC finds a damaged or truncated file (it is then made again); it is no defence
// against someone who may write the cache directory, who could as well write wazero's
// compiled native code beside it.

const baseImageMagic = "isobimg1"

const baseImageTrailer = 8 + 32 + 4 + 4 + 8 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// baseImagePath is the base image's file in cacheDir, named by everything the image
// depends on: the QuickJS build, the runtime's source (srcSum: runtime.SourceSum), the
// settings the engine starts a sandbox with, and the running executable's build
// (executableID: the Go side of the host operations the runtime calls while it starts is
// in it, and a new build must not take an image an older one made).
func baseImagePath(cacheDir string, srcSum [32]byte) string {
	h := sha256.New()
	h.Write(srcSum[:])
	h.Write([]byte(executableID()))
	var b [8]byte
	for _, v := range []uint64{maxJSStack, gcHeadroom, stackSize, DefaultLimits().Memory, wasmPage} {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	return filepath.Join(cacheDir, fmt.Sprintf("base-%s-%x.img", js.BuildID(), h.Sum(nil)[:8]))
}

// executableID names the build of the running executable: its Go build ID (the ELF note
// the linker writes, which is the same for every copy, link and `go run` of one build and
// changes with any of its inputs), else its path, size and modification time. Named by
// path and time, every `go run ./cmd/isobox` (a binary in a new temporary directory) made
// and kept a base image of its own.
func executableID() string {
	if f, err := elf.Open("/proc/self/exe"); err == nil {
		defer f.Close()
		if s := f.Section(".note.go.buildid"); s != nil {
			if b, err := s.Data(); err == nil && len(b) > 0 {
				return "go-build-id\x00" + string(b)
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fmt.Sprintf("%s\x00%d\x00%d", exe, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return ""
}

// keptBaseImages is how many base image files a cache directory keeps: storing one removes
// the least recently written beyond it (those of older builds; a process that maps one
// keeps its pages, and a build whose file is gone makes it again).
const keptBaseImages = 8

// pruneBaseImages removes the base image files of dir beyond the keptBaseImages most
// recently written. A cache: what cannot be removed stays.
func pruneBaseImages(dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "base-*.img"))
	if len(paths) <= keptBaseImages {
		return
	}
	type file struct {
		path string
		mod  int64
	}
	files := make([]file, 0, len(paths))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			files = append(files, file{p, fi.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return cmp.Compare(b.mod, a.mod) })
	for _, f := range files[min(keptBaseImages, len(files)):] {
		_ = os.Remove(f.path)
	}
}

// encodeTrailer is the trailer of a base image file holding img.
func encodeTrailer(img *image, dead span) []byte {
	t := make([]byte, 0, baseImageTrailer)
	t = append(t, baseImageMagic...)
	t = append(t, img.sum[:]...)
	t = binary.LittleEndian.AppendUint32(t, dead.off)
	t = binary.LittleEndian.AppendUint32(t, dead.n)
	t = binary.LittleEndian.AppendUint64(t, uint64(len(img.data)))
	crc := crc32.Update(crc32.Checksum(img.data, castagnoli), castagnoli, t)
	return binary.LittleEndian.AppendUint32(t, crc)
}

// checkBaseImage checks a base image file's bytes (file = memory + trailer) and returns the
// memory's length, its SHA-256 and the dead stack; ok is false for a damaged file.
func checkBaseImage(file []byte) (n int, sum [32]byte, dead span, ok bool) {
	n = len(file) - baseImageTrailer
	if n <= 0 || n%wasmPage != 0 {
		return 0, sum, dead, false
	}
	t := file[n:]
	if string(t[:8]) != baseImageMagic || binary.LittleEndian.Uint64(t[48:56]) != uint64(n) {
		return 0, sum, dead, false
	}
	if crc32.Checksum(file[:len(file)-4], castagnoli) != binary.LittleEndian.Uint32(t[56:]) {
		return 0, sum, dead, false
	}
	copy(sum[:], t[8:40])
	dead = span{off: binary.LittleEndian.Uint32(t[40:44]), n: binary.LittleEndian.Uint32(t[44:48])}
	if uint64(dead.off)+uint64(dead.n) > uint64(n) {
		return 0, sum, dead, false
	}
	return n, sum, dead, true
}

// storeBaseImage keeps img in the cache file at path (written aside, then renamed over it:
// a reader sees a whole file or none). A cache: failing to keep it only costs time.
func storeBaseImage(path string, img *image, dead span) {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if writeBaseImage(tmp, img, dead) == nil && os.Rename(tmp, path) == nil {
		pruneBaseImages(filepath.Dir(path))
		return
	}
	_ = os.Remove(tmp)
}

// writeBaseImage writes img and its trailer to a new file at path.
func writeBaseImage(path string, img *image, dead span) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(img.data)
	if err == nil {
		_, err = f.Write(encodeTrailer(img, dead))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
