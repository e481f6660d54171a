package engine

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/isobox/isobox/engine/js"
	"github.com/isobox/isobox/isoerr"
)

// osPage is the granularity of images: the pages that differ from the base image.
const osPage = 4096

// Image is a sandbox frozen between invocations: the pages of its memory that differ from
// the engine's base image (the state right after the runtime started). Restore makes new,
// independent sandboxes from it; Marshal writes it out (hibernation) and UnmarshalImage
// reads it back in this or a later process of the same build.
type Image struct {
	base   [32]byte // SHA-256 of the base image it is relative to
	size   uint32   // memory size in bytes
	pages  []uint32 // indexes of the pages that differ from the base, ascending
	data   []byte   // those pages' bytes, in the same order
	loaded bool     // the sandbox had its worker's modules evaluated
	python bool     // a Python sandbox's (relative to the engine's Python base image)
	// baseData is the base image's memory (the engine's, shared), for Marshal.
	baseData []byte
	keys     *keyTable        // crypto.subtle's keys (engine/crypto.go), which live in the host
	wasm     *wasmImage       // the WebAssembly global's modules and instances (wasmjs_snapshot.go)
	worker   *wasmWorkerImage // a WebAssembly worker's sandbox (wasmworker_image.go): no pages
	// file holds the image's pages in a sealed file, made at its first restore, which
	// restores map copy-on-write instead of copying (imageLayers).
	file imageFile
	// pool keeps sandboxes restored from the image ready (KeepRestored); nil: none.
	pool atomic.Pointer[blankPool]
}

// imageFile is an image's pages as layers of a sealed file (restoreRuns of them at most:
// the changed pages, merged across their smallest gaps, the gaps holding the base image's
// pages). A restore maps the layers over its memory, as a fork's child maps its parent's
// (memory.go), so its cost no longer grows with the image: a page is copied only when the
// new sandbox writes it, and the pages it only reads stay shared by every sandbox restored
// from the image. The image keeps a reference to the file until it is collected; each
// memory that maps a layer keeps one of its own.
type imageFile struct {
	once   sync.Once
	layers []layer // nil where the OS cannot share pages this way: restores copy
}

const (
	// restoreRuns bounds the layers a restore maps: each is a mapping (up to two more
	// entries in the kernel's list of the process's mappings, which vm.max_map_count
	// bounds, 65,530 by default) for as long as the sandbox lives.
	restoreRuns = 2
	// restoreSlack bounds the base image's pages an image's file may hold in the gaps
	// between its runs, past as many as the image's own pages: an image whose pages are
	// scattered more widely is restored by copying.
	restoreSlack = 64 * osPage
)

// fileRuns returns the runs of memory the image's file holds, or nil when the image is
// restored by copying (no pages, or pages too scattered for restoreRuns runs).
func (img *Image) fileRuns() []pageRun {
	if len(img.pages) == 0 {
		return nil
	}
	var runs []pageRun
	for _, p := range img.pages {
		off := int(p) * osPage
		if k := len(runs) - 1; k >= 0 && runs[k].off+runs[k].n == off {
			runs[k].n += osPage
		} else {
			runs = append(runs, pageRun{off, osPage})
		}
	}
	runs = mergeRuns(runs, restoreRuns)
	total := 0
	for _, r := range runs {
		total += r.n
	}
	if total > 2*len(img.data)+restoreSlack {
		return nil
	}
	return runs
}

// FileBytes is the size of the file that restores of the image map its pages from (made at
// its first restore, shared by every sandbox restored from it; Size does not count it): at
// most twice Size and 256 KiB more, 0 for an image restored by copying.
func (img *Image) FileBytes() int {
	n := 0
	for _, r := range img.fileRuns() {
		n += r.n
	}
	return n
}

// imageLayers returns the layers of the image's file, writing the file the first time.
// base is the base image the image is relative to. nil means restores copy.
func (img *Image) imageLayers(base []byte) []layer {
	img.file.once.Do(func() {
		runs := img.fileRuns()
		if runs == nil {
			return
		}
		total := 0
		for _, r := range runs {
			total += r.n
		}
		// The runs' contents, packed: each page the image's own, else the base image's
		// (zeros past its end).
		packed := make([]byte, total)
		pos, i := 0, 0
		for _, r := range runs {
			for off := r.off; off < r.off+r.n; off += osPage {
				dst := packed[pos : pos+osPage]
				if i < len(img.pages) && int(img.pages[i])*osPage == off {
					copy(dst, img.data[i*osPage:(i+1)*osPage])
					i++
				} else if off+osPage <= len(base) {
					copy(dst, base[off:off+osPage])
				}
				pos += osPage
			}
		}
		f, _ := newForkFile(packed, []pageRun{{0, total}})
		if f == nil {
			return
		}
		layers := make([]layer, len(runs))
		pos = 0
		for k, r := range runs {
			layers[k] = layer{f: f, memOff: r.off, fileOff: pos, n: r.n}
			pos += r.n
		}
		img.file.layers = layers
		// The image's own reference goes with the image; mapped layers hold theirs.
		runtime.AddCleanup(img, func(f *forkFile) { f.release() }, f)
	})
	return img.file.layers
}

// Size is the number of bytes the image holds in memory (its differing pages, and its
// WebAssembly instances' memories and modules).
func (img *Image) Size() int { return len(img.data) + img.wasm.size() + img.worker.size() }

// Python reports whether the image is of a Python sandbox (restore it with
// Engine.RestorePython) rather than a JavaScript one (Engine.Restore).
func (img *Image) Python() bool { return img.python }

// Settle prepares a sandbox to be the image many restore from, as the base image is: it
// collects garbage and defers the next collection by gcHeadroom bytes, gives QuickJS's
// shape table room for 512 more shapes, and makes the atoms it holds immortal (ib_settle
// in glue.c). Without it a sandbox restored from the image may cross either threshold in
// its first call: the collection or the table's resize writes into every page of the image
// and makes each its private copy (a Hono app restored from its dependency image: ~280 KiB
// more per idle worker and ~1.6x the CPU of its cold load, RATIONALE §96).
func (sb *Sandbox) Settle() error {
	if sb.wasm != nil || sb.py {
		return nil
	}
	if sb.broken != nil {
		return sb.broken
	}
	if sb.inv != nil {
		return isoerr.New(isoerr.Internal, "cannot settle a sandbox while it runs")
	}
	_, err := sb.call(opSettle, gcHeadroom, 0, 0)
	return err
}

// Snapshot captures the sandbox's current state. The sandbox keeps running normally.
//
// # Errors
//
// The sandbox's own error if it is broken (a limit tripped); internal_error while an
// invocation is running; not_implemented naming a WebAssembly instance whose state cannot
// be captured (wasmjs_snapshot.go).
func (sb *Sandbox) Snapshot() (*Image, error) {
	if sb.wasm != nil {
		return sb.snapshotWasm(false)
	}
	if sb.broken != nil {
		return nil, sb.broken
	}
	if sb.inv != nil {
		return nil, isoerr.New(isoerr.Internal, "cannot snapshot a sandbox while it runs")
	}
	base, _ := sb.baseImage()
	if base == nil {
		return nil, isoerr.New(isoerr.NotImplemented, "snapshots need the base image (Config.NoImage is set)")
	}
	wi, err := sb.captureWasmJS(false)
	if err != nil {
		return nil, err
	}
	mem, _ := sb.mod.Memory().Read(0, sb.mod.Memory().Size())
	img := &Image{base: base.sum, size: uint32(len(mem)), loaded: sb.loaded, python: sb.py, baseData: base.data, keys: sb.keys.clone(), wasm: wi}
	// Every page that differs from the image was written, so the sandbox's private pages
	// bound the image's size: one allocation instead of a slice grown page by page.
	if n, ok := sb.privateBytes(); ok {
		img.data = make([]byte, 0, n)
		img.pages = make([]uint32, 0, n/osPage)
	}
	sb.changedPages(mem, func(off int) {
		img.pages = append(img.pages, uint32(off/osPage))
		img.data = append(img.data, mem[off:off+osPage]...)
	})
	return img, nil
}

var zeroPage [osPage]byte

// changedPages calls f with the offset of every page of mem that differs from what a
// sandbox restored from the base image holds there: the base image's bytes, zeros past
// its end. The dead part of the stack is skipped: it is garbage between calls.
func (sb *Sandbox) changedPages(mem []byte, f func(off int)) {
	baseImg, dead := sb.baseImage()
	base := baseImg.data
	// The live part's holes read as zeros, and reading one would give it a page.
	end, data := len(mem), sb.mem.liveData()
	if sb.mem.live != nil {
		end = min(end, sb.mem.liveOff)
	}
	for off := 0; off < len(mem); off += osPage {
		if uint32(off) >= dead.off && uint32(off) < dead.off+dead.n {
			continue
		}
		if off >= end {
			for len(data) > 0 && data[0].off+data[0].n <= off {
				data = data[1:]
			}
			if len(data) == 0 || off < data[0].off {
				continue
			}
		}
		p := mem[off : off+osPage]
		if off+osPage <= len(base) {
			if bytes.Equal(p, base[off:off+osPage]) {
				continue
			}
		} else if bytes.Equal(p, zeroPage[:]) {
			continue
		}
		f(off)
	}
}

// Restore makes a new sandbox in the state img was taken in. cfg gives it its host side
// (modules, outbound); the memory limit must hold the image. The image says the language:
// a Python sandbox's image gives a Python sandbox (cfg.Python is set for it), and
// cfg.Python with a JavaScript image is invalid_request.
func (e *Engine) Restore(ctx context.Context, img *Image, cfg SandboxConfig) (*Sandbox, error) {
	if img.worker != nil {
		return e.restoreWasmWorker(ctx, img, cfg)
	}
	if img.python {
		cfg.Python = true
		return e.restorePython(ctx, img, cfg)
	}
	if cfg.Python {
		return nil, isoerr.New(isoerr.InvalidRequest, "the image is of a JavaScript sandbox, not a Python one")
	}
	if e.base == nil || img.base != e.base.sum {
		return nil, isoerr.New(isoerr.InvalidRequest, "the image was taken from another isobox build or base image and cannot be restored here")
	}
	sb := e.takeRestored(img, cfg)
	if sb == nil {
		var err error
		if sb, err = e.restoreJS(ctx, img, cfg, nil); err != nil {
			return nil, err
		}
	}
	if p := img.pool.Load(); p != nil && p.learning() {
		sb.learn = p
	}
	return sb, nil
}

// restoreJS is Restore of the image of a JavaScript sandbox, without its pool, with the
// pages of hot copied (populate) as soon as the image is in place.
func (e *Engine) restoreJS(ctx context.Context, img *Image, cfg SandboxConfig, hot []pageRun) (*Sandbox, error) {
	sb, err := e.restoreImage(ctx, img, e.base, &cfg, e.restore, hot)
	if err != nil {
		return nil, err
	}
	sb.cfg = cfg
	sb.loaded = img.loaded
	sb.keys = img.keys.clone()
	if err := sb.restoreWasmJS(ctx, img.wasm); err != nil {
		sb.Close(ctx)
		return nil, err
	}
	// The image holds the Math.random state of the sandbox it was taken from: every
	// sandbox restored from it (workers of different tenants, for a dependency image)
	// would draw that sandbox's numbers, each predicting the others'.
	if err := sb.reseed(); err != nil {
		sb.Close(ctx)
		return nil, err
	}
	return sb, nil
}

// restoreImage makes a new sandbox from base with fromBase and maps img's pages over it
// (imageLayers), or copies them where they cannot be mapped, and then copies the pages of
// hot into it (populate). A page is copied there before anything reads it: once a read
// has mapped it (the kernel maps a read page's neighbours too), its copy on a write also
// flushes it from every core's TLB, an interrupt of the other cores each time.
func (e *Engine) restoreImage(ctx context.Context, img *Image, base *image, cfg *SandboxConfig,
	fromBase func(context.Context, *image, uint64) (*Sandbox, error), hot []pageRun) (*Sandbox, error) {
	if cfg.Memory == 0 {
		cfg.Memory = DefaultLimits().Memory
	}
	if err := (Limits{Memory: cfg.Memory}).Validate(); err != nil {
		return nil, err
	}
	if uint64(img.size) > cfg.Memory {
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "the image holds %d MiB of memory; the sandbox's limit is %d MiB", img.size>>20, cfg.Memory>>20)
	}
	// A sandbox from the base image, grown to the image's size.
	start := func() (*Sandbox, error) {
		sb, err := fromBase(ctx, base, cfg.Memory)
		if err != nil {
			return nil, err
		}
		if mem := sb.mod.Memory(); img.size > mem.Size() {
			if _, ok := mem.Grow((img.size - mem.Size()) / wasmPage); !ok {
				sb.Close(ctx)
				return nil, sb.memoryError()
			}
		}
		return sb, nil
	}
	sb, err := start()
	if err != nil {
		return nil, err
	}
	if sb.mem.canMountLayers() {
		if layers := img.imageLayers(base.data); layers != nil {
			if sb.mem.mountLayers(layers) {
				populate(sb.mem, hot)
				return sb, nil
			}
			// A mapping failed part way: start again, and copy.
			sb.Close(ctx)
			if sb, err = start(); err != nil {
				return nil, err
			}
		}
	}
	mem := sb.mod.Memory()
	buf, _ := mem.Read(0, mem.Size())
	for i, p := range img.pages {
		copy(buf[int(p)*osPage:int(p+1)*osPage], img.data[i*osPage:(i+1)*osPage])
	}
	populate(sb.mem, hot)
	return sb, nil
}

// Fork returns a new sandbox with the same state as sb at this moment; from then on the
// two are independent, and draw different random numbers. On Linux no page is copied into
// the child: parent and child map the same sealed files privately (see planFork), and each
// copies a page only when it writes it. Elsewhere the child starts from the base image and
// gets a copy of every page the parent changed.
func (sb *Sandbox) Fork(ctx context.Context) (*Sandbox, error) {
	if sb.wasm != nil {
		img, err := sb.snapshotWasm(true)
		if err != nil {
			return nil, err
		}
		return sb.e.restoreWasmWorker(ctx, img, sb.cfg)
	}
	if err := sb.forkable(); err != nil {
		return nil, err
	}
	base, _ := sb.baseImage()
	// The WebAssembly instances first: one that cannot be captured refuses the fork
	// before anything is done. Their memories are read in place: the parent does not run
	// before the child has them.
	wi, err := sb.captureWasmJS(true)
	if err != nil {
		return nil, err
	}
	fromBase := sb.e.restore
	if sb.py {
		fromBase = sb.e.pythonRestore
	}
	// A new sandbox from the base image, grown to the parent's size.
	newChild := func() (*Sandbox, error) {
		child, err := fromBase(ctx, base, sb.mem.limit)
		if err != nil {
			return nil, err
		}
		pm, cm := sb.mod.Memory(), child.mod.Memory()
		if pm.Size() > cm.Size() {
			if _, ok := cm.Grow((pm.Size() - cm.Size()) / wasmPage); !ok {
				child.Close(ctx)
				return nil, sb.memoryError()
			}
		}
		return child, nil
	}
	child, err := newChild()
	if err != nil {
		return nil, err
	}
	// Copy-on-write where the OS allows (see planFork), else a copy of the changed pages.
	shared := false
	if plan, ok := sb.mem.planFork(sb.e.pagemap); ok {
		// The child first: if its mappings fail, it is replaced and the parent is intact.
		shared = child.mem.mountFork(plan)
		if shared && !sb.mem.adoptFork(plan) {
			plan.done()
			child.Close(ctx)
			sb.broken = isoerr.New(isoerr.Internal, "the sandbox's memory could not be remapped for a fork")
			return nil, sb.broken
		}
		plan.done()
		if !shared { // the child may hold some layers: start it again, to copy into
			child.Close(ctx)
			if child, err = newChild(); err != nil {
				return nil, err
			}
		}
	}
	if !shared {
		src, _ := sb.mod.Memory().Read(0, sb.mod.Memory().Size())
		dst, _ := child.mod.Memory().Read(0, child.mod.Memory().Size())
		sb.changedPages(src, func(off int) { copy(dst[off:off+osPage], src[off:off+osPage]) })
	}
	child.cfg, child.loaded, child.py, child.keys = sb.cfg, sb.loaded, sb.py, sb.keys.clone()
	if err := child.restoreWasmJS(ctx, wi); err != nil {
		child.Close(ctx)
		return nil, err
	}
	// The two must not draw the same random numbers.
	if child.py {
		if err := child.pythonReseed(ctx); err != nil {
			child.Close(ctx)
			return nil, err
		}
	} else if err := child.reseed(); err != nil {
		child.Close(ctx)
		return nil, err
	}
	return child, nil
}

// forkable says why sb cannot be forked, if it cannot.
func (sb *Sandbox) forkable() error {
	if sb.wasm != nil { // Fork forks them through an image; their memory is not QuickJS's
		return isoerr.New(isoerr.NotImplemented, "a WebAssembly worker's memory cannot be prepared for a fork (Fork reads it in place)")
	}
	if sb.broken != nil {
		return sb.broken
	}
	if sb.inv != nil {
		return isoerr.New(isoerr.Internal, "cannot fork a sandbox while it runs")
	}
	if base, _ := sb.baseImage(); base == nil {
		return isoerr.New(isoerr.NotImplemented, "fork needs the base image (Config.NoImage is set)")
	}
	return nil
}

// PrepareFork readies sb to be forked without copying its memory (Linux). A sandbox's
// first Fork otherwise copies every page it wrote since it started into a file that the
// parent and the child then share (~0.4 ms per MiB). PrepareFork makes that copy now, for
// the pages written so far, and from then on keeps the memory sb grows into in a file of
// its own, so a later Fork maps those pages instead of copying them. Call it on a sandbox
// that will be forked, when it is new or idle (off the request path). The memory it grows
// into afterwards costs ~1 µs more per page on first write (a shared file's page, not an
// anonymous one), and reading a part of it never written gives it a page (no zero page).
// Calling it again copies only what sb wrote since. A fork's child is not prepared.
//
// # Errors
//
// As Fork; not_implemented where the OS cannot share pages (memfd: Linux only), and for a
// sandbox without a reserved memory; internal_error if a mapping failed, and then the
// sandbox is broken (its memory may have lost pages).
func (sb *Sandbox) PrepareFork() error {
	if err := sb.forkable(); err != nil {
		return err
	}
	ok, broken := sb.mem.prepareFork(sb.e.pagemap)
	if broken {
		sb.broken = isoerr.New(isoerr.Internal, "the sandbox's memory could not be remapped to prepare a fork")
		return sb.broken
	}
	if !ok {
		return isoerr.New(isoerr.NotImplemented, "this sandbox's memory cannot be shared copy-on-write here (memfd and /proc/self/pagemap are Linux's)")
	}
	return nil
}

// The serialized form: magic, version, build id, base hash, size, flags, page count, page
// indexes, the key table's length and JSON (crypto.subtle's keys, engine/crypto.go), the
// WebAssembly state's length and bytes (wasmjs_snapshot_wire.go; length 0: none), then
// the pages deflated, then a SHA-256 of everything before it.
const (
	imageMagic   = "ISOBOXIMG"
	imageVersion = 4
)

// xorPage writes into dst page p's difference with the base image (and back: the
// operation is its own inverse). A page a call changed is mostly unchanged bytes, which
// become zeros and compress to almost nothing. Pages past the base are copied.
func xorPage(dst, page []byte, p uint32, base []byte) {
	off := int(p) * osPage
	if off+osPage > len(base) {
		copy(dst, page)
		return
	}
	subtle.XORBytes(dst, page, base[off:off+osPage])
}

// flateWriters recycles deflate compressors: each holds ~1 MiB of tables, which made
// allocating one the largest cost of a hibernation.
var flateWriters = sync.Pool{New: func() any {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return zw
}}

// Marshal serializes the image for hibernation: each page as its difference with the base
// image, deflated.
func (img *Image) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(imageMagic)
	b.WriteByte(imageVersion)
	b.WriteString(js.BuildID())
	b.Write(img.base[:])
	var hdr [12]byte
	binary.LittleEndian.PutUint32(hdr[0:], img.size)
	if img.loaded {
		hdr[4] = 1
	}
	if img.worker != nil {
		hdr[5] = 1 // the WebAssembly state is a worker's
	}
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(img.pages)))
	b.Write(hdr[:])
	for _, p := range img.pages {
		_ = binary.Write(&b, binary.LittleEndian, p)
	}
	keys, err := img.keys.marshal()
	if err != nil {
		return nil, isoerr.New(isoerr.Internal, "marshal the image's CryptoKeys: %v", err)
	}
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(keys)))
	b.Write(keys)
	var wasm []byte
	if img.wasm != nil {
		if wasm, err = img.wasm.marshal(); err != nil {
			return nil, isoerr.New(isoerr.Internal, "marshal the image's WebAssembly instances: %v", err)
		}
	}
	if img.worker != nil {
		if wasm, err = img.worker.marshal(); err != nil {
			return nil, isoerr.New(isoerr.Internal, "marshal the image's WebAssembly worker: %v", err)
		}
	}
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(wasm)))
	b.Write(wasm)
	zw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(zw)
	zw.Reset(&b)
	var page [osPage]byte
	for i, p := range img.pages {
		xorPage(page[:], img.data[i*osPage:(i+1)*osPage], p, img.baseData)
		if _, err := zw.Write(page[:]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// UnmarshalImage reads an image written by Marshal. It checks the checksum, the build that
// wrote it and the base image it is relative to.
//
// # Errors
//
// invalid_request naming what does not match: a corrupt or truncated image, another
// isobox build, another base image. A rejected image must be rebuilt, never trusted.
func (e *Engine) UnmarshalImage(b []byte) (*Image, error) { return e.unmarshalImage(b, false) }

// UnmarshalPythonImage is UnmarshalImage for the image of a Python sandbox: it starts the
// engine's Python side (compiling CPython, getting the Python base image) if need be, which
// UnmarshalImage does not do (it accepts Python images only once Python has started).
//
// # Errors
//
// As UnmarshalImage; the error of starting Python.
func (e *Engine) UnmarshalPythonImage(ctx context.Context, b []byte) (*Image, error) {
	if err := e.preparePython(ctx); err != nil {
		return nil, err
	}
	return e.unmarshalImage(b, true)
}

func (e *Engine) unmarshalImage(b []byte, python bool) (*Image, error) {
	bad := func(format string, args ...any) error {
		return isoerr.New(isoerr.InvalidRequest, "image rejected: "+format, args...)
	}
	head := len(imageMagic) + 1 + 16 + 32 + 12
	if len(b) < head+sha256.Size {
		return nil, bad("%d bytes is too short", len(b))
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, bad("checksum mismatch (corrupt or truncated)")
	}
	if string(body[:len(imageMagic)]) != imageMagic {
		return nil, bad("not an isobox image")
	}
	p := len(imageMagic)
	if body[p] != imageVersion {
		return nil, bad("format version %d, want %d", body[p], imageVersion)
	}
	p++
	if id := string(body[p : p+16]); id != js.BuildID() {
		return nil, bad("written by engine build %s, this is %s", id, js.BuildID())
	}
	p += 16
	img := &Image{}
	copy(img.base[:], body[p:p+32])
	p += 32
	base := e.base
	if base == nil || img.base != base.sum {
		// A Python image? Its base exists once the engine has started Python; starting it
		// is UnmarshalPythonImage's choice (it costs an engine that never runs Python
		// CPython's compilation and image).
		if pyBase := e.pythonBase(python); pyBase != nil && img.base == pyBase.sum {
			base, img.python = e.py.base, true
		} else {
			return nil, bad("relative to another base image")
		}
	}
	img.size = binary.LittleEndian.Uint32(body[p:])
	img.loaded = body[p+4] == 1
	worker := body[p+5] == 1
	n := binary.LittleEndian.Uint32(body[p+8:])
	p += 12
	if img.size%wasmPage != 0 || uint64(img.size) > MaxMemory || uint64(n)*osPage > uint64(img.size) || len(body) < p+int(n)*4 {
		return nil, bad("inconsistent header (size %d, %d pages)", img.size, n)
	}
	img.pages = make([]uint32, n)
	last := -1
	for i := range img.pages {
		img.pages[i] = binary.LittleEndian.Uint32(body[p:])
		p += 4
		if int(img.pages[i]) <= last || uint64(img.pages[i]+1)*osPage > uint64(img.size) {
			return nil, bad("page index %d out of order or range", img.pages[i])
		}
		last = int(img.pages[i])
	}
	if len(body) < p+4 || uint64(len(body)) < uint64(p)+4+uint64(binary.LittleEndian.Uint32(body[p:])) {
		return nil, bad("truncated key table")
	}
	nk := int(binary.LittleEndian.Uint32(body[p:]))
	keys, err := unmarshalKeyTable(body[p+4 : p+4+nk])
	if err != nil {
		return nil, bad("key table: %v", err)
	}
	img.keys = keys
	p += 4 + nk
	if len(body) < p+4 || uint64(len(body)) < uint64(p)+4+uint64(binary.LittleEndian.Uint32(body[p:])) {
		return nil, bad("truncated WebAssembly state")
	}
	if nw := int(binary.LittleEndian.Uint32(body[p:])); nw > 0 || worker {
		switch {
		case img.python:
			return nil, bad("WebAssembly state in a Python sandbox's image")
		case worker && (n != 0 || img.size != 0):
			return nil, bad("pages in a WebAssembly worker's image")
		case worker:
			if img.worker, err = unmarshalWasmWorkerImage(body[p+4 : p+4+nw]); err != nil {
				return nil, bad("WebAssembly worker: %v", err)
			}
		default:
			if img.wasm, err = unmarshalWasmImage(body[p+4 : p+4+nw]); err != nil {
				return nil, bad("WebAssembly state: %v", err)
			}
		}
		p += nw
	}
	p += 4
	zr := flate.NewReader(bytes.NewReader(body[p:]))
	data := make([]byte, int(n)*osPage)
	if _, err := io.ReadFull(zr, data); err != nil {
		return nil, bad("page data does not decompress to %d pages (%v)", n, err)
	}
	if k, _ := zr.Read(make([]byte, 1)); k != 0 {
		return nil, bad("page data decompresses to more than %d pages", n)
	}
	for i, pg := range img.pages {
		page := data[i*osPage : (i+1)*osPage]
		xorPage(page, page, pg, base.data)
	}
	img.data = data
	img.baseData = base.data
	return img, nil
}

// Trim gives back to the OS the dead part of an idle sandbox's stack, and the pages that
// hold exactly what lies beneath them (the base image's bytes, or for a memory mapped from
// layers, a restored image's or a fork's, the layer's): a page that was written (a
// reference count raised and lowered, memory allocated and freed) stays private even when
// its bytes end up unchanged. Those pages then share the image again, and the image's pages
// the sandbox only read are unmapped from it (they stay in the image, held once for every
// sandbox; a later read maps them again). It returns the bytes of private pages released.
// Use it on sandboxes that went idle; it costs a comparison of the sandbox's private pages
// with what is beneath them.
func (sb *Sandbox) Trim() int {
	baseImg, _ := sb.baseImage()
	if sb.broken != nil || sb.inv != nil || baseImg == nil {
		return 0
	}
	sb.dropDeadStack()
	// wazero keeps the native stack a function grew (often 100 KiB or more) for as long as
	// the function is bound; an idle sandbox lets it go and binds again on its next call.
	sb.entry = nil
	if !sb.mem.shared {
		return 0
	}
	mem := sb.mem.buf
	base := baseImg.data
	n := min(len(mem), len(base)) &^ (osPage - 1)
	// A memory mapped from layers (a fork's child or parent, a restored image) shows, where
	// a page is discarded, the topmost layer that covers it, else the base image, else
	// zeros: its pages are compared with that, up to the live part (a shared file, whose
	// pages a discard would not give back).
	layers := sb.mem.layers
	var under [osPage]byte
	if len(layers) > 0 {
		n = len(mem)
		if sb.mem.live != nil {
			n = min(n, sb.mem.liveOff)
		}
		n &^= osPage - 1
	}
	// beneath returns what the page at off shows once discarded; nil if it cannot be read.
	beneath := func(off int) []byte {
		for i := len(layers) - 1; i >= 0; i-- {
			if l := layers[i]; off >= l.memOff && off < l.memOff+l.n {
				if !l.f.readPage(under[:], l.fileOff+off-l.memOff) {
					return nil
				}
				return under[:]
			}
		}
		if off+osPage <= len(base) {
			return base[off : off+osPage]
		}
		return zeroPage[:]
	}
	// Where the page table can be read, only the private pages are compared (reading the
	// others would map them), and every page is discarded only after all reads: a read
	// fault maps the image's pages around the one read, which would undo an earlier discard.
	kinds, ok := sb.e.pagemap.pageKinds(mem[:n])
	released := 0
	var drop []pageRun
	for off := 0; off < n; off += osPage {
		k := byte(pagePrivate)
		if ok {
			k = kinds[off/osPage]
		}
		if k == pagePrivate {
			if b := beneath(off); b == nil || !bytes.Equal(mem[off:off+osPage], b) {
				continue
			}
		}
		if k == pagePrivate {
			released += osPage
		}
		if last := len(drop) - 1; last >= 0 && drop[last].off+drop[last].n == off {
			drop[last].n += osPage
		} else {
			drop = append(drop, pageRun{off, osPage})
		}
	}
	for _, r := range drop {
		discard(mem[r.off : r.off+r.n])
	}
	return released
}
