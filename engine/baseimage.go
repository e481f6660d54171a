package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
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
// settings the engine starts a sandbox with, and the running executable (its path, size
// and modification time: the Go side of the host operations the runtime calls while it
// starts is in it, and a new build must not take an image an older one made).
func baseImagePath(cacheDir string, srcSum [32]byte) string {
	h := sha256.New()
	h.Write(srcSum[:])
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d", exe, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	var b [8]byte
	for _, v := range []uint64{maxJSStack, gcHeadroom, stackSize, DefaultLimits().Memory, wasmPage} {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	return filepath.Join(cacheDir, fmt.Sprintf("base-%s-%x.img", js.BuildID(), h.Sum(nil)[:8]))
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
