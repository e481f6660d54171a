package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/isobox/isobox/isoerr"
)

// A memory image is a sandbox's whole state between invocations: its linear memory. (The
// only mutable wasm global, the stack pointer, is back at its initial value whenever no
// guest call is running, and the function table never changes.) A new sandbox made from an
// image skips QuickJS's start-up and the runtime's evaluation: it is an instantiation plus
// a copy-on-write mapping of the image.
type image struct {
	data []byte // the memory, len a multiple of the wasm page size
	cow  *cowFile
	sum  [32]byte // SHA-256 of data: names the image
	// pool keeps closed sandboxes' memories reset to the image (recycle.go); nil for
	// images that do not recycle (per-worker images, no copy-on-write file).
	pool *memPool
}

// span is a byte range of linear memory.
type span struct{ off, n uint32 }

// newImage captures sb's memory. sb must not be running.
func newImage(sb *Sandbox) *image {
	mem := sb.mod.Memory()
	b, _ := mem.Read(0, mem.Size())
	img := &image{data: append([]byte(nil), b...)}
	img.sum = sha256.Sum256(img.data)
	img.cow = newCOWFile(img.data) // nil where the platform has no memfd: restores copy
	return img
}

// close releases the image's shared file.
func (img *image) close() {
	img.pool.drop(true)
	if img.cow != nil {
		img.cow.close()
	}
}

// restore makes a new sandbox whose memory starts as img.
func (e *Engine) restore(ctx context.Context, img *image, memLimit uint64) (*Sandbox, error) {
	return e.restoreHot(ctx, img, memLimit, nil)
}

// restoreHot is restore with the pages of hot copied (populate) as soon as the image is
// mapped, before the reseed reads any: see restoreImage.
func (e *Engine) restoreHot(ctx context.Context, img *image, memLimit uint64, hot []pageRun) (*Sandbox, error) {
	if uint64(len(img.data)) > memLimit {
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "memory limit of %d MiB is smaller than the sandbox image (%d KiB)", memLimit>>20, len(img.data)>>10)
	}
	sb := &Sandbox{e: e, mem: newImageMemory(memLimit, img)}
	sb.ctx = context.WithValue(context.Background(), sandboxKey{}, sb)
	ictx := experimental.WithMemoryAllocator(sb.ctx, experimental.MemoryAllocatorFunc(
		func(cap, max uint64) experimental.LinearMemory { return sb.mem }))
	// No start function: the image already ran it.
	mod, err := e.rt.InstantiateModule(ictx, e.compiled, e.restoreConfig)
	if err != nil {
		sb.mem.Free()
		return nil, fmt.Errorf("engine: instantiate from image: %w", err)
	}
	sb.mod = mod
	sb.entry = mod.ExportedFunction("ib_call")
	// Growing to the image's size moves the memory onto the image (newImageMemory).
	mem := mod.Memory()
	want := uint32(len(img.data) / wasmPage)
	if mem.Size()/wasmPage >= want {
		sb.Close(ctx)
		return nil, fmt.Errorf("engine: the image (%d pages) is not larger than the module's initial memory", want)
	}
	if _, ok := mem.Grow(want - mem.Size()/wasmPage); !ok {
		sb.Close(ctx)
		return nil, fmt.Errorf("engine: cannot size memory for the image")
	}
	populate(sb.mem, hot)
	if err := sb.reseed(); err != nil {
		sb.Close(ctx)
		return nil, err
	}
	return sb, nil
}

// growStack grows the native stack of sb's calls (wazero's: 10 KiB at first, doubled and
// copied whenever a call needs more) by recursing calls deep in the glue, without changing
// sb's memory: a pooled sandbox does it while it waits, so that its load and first
// response do not grow and copy the stack on the request path (RATIONALE §88, §97). A
// failure only leaves the stack smaller.
func (sb *Sandbox) growStack(calls uint32) {
	_, _ = sb.call(opGrowStack, calls, 0, 0)
}

const (
	// growStackCalls is how deep a pool grows an entry's stack at first: at ~170 bytes a
	// frame, past the ~160 KiB a hello worker's load and first fetch grow it to. A pool
	// whose workers need more learns it (blankPool.grow).
	growStackCalls = 1000
	// maxStackCalls bounds that learned depth: ~1.3 MiB of stack an entry holds while it
	// waits, and its worker until it is trimmed.
	maxStackCalls = 8000
)

// reseed gives a JavaScript sandbox a Math.random sequence of its own.
func (sb *Sandbox) reseed() error {
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	if _, err := sb.call(opReseed, binary.LittleEndian.Uint32(seed[:4]), binary.LittleEndian.Uint32(seed[4:]), 0); err != nil {
		return fmt.Errorf("engine: reseed sandbox: %w", err)
	}
	return nil
}

const wasmPage = 65536
