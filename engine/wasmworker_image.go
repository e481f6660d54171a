package engine

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero/api"

	"github.com/isobox/isobox/isoerr"
)

// Images of WebAssembly workers' sandboxes (a .wasm main module, wasmworker.go). A
// command keeps nothing between requests, so its image is the loaded worker (its module
// and env). A reactor's state is its instance's: the image carries its linear memory and
// its mutable globals (read through the rewrite of wasmjs_snapshot.go, which the reactor is
// compiled from), and a restore instantiates the module again — without its start section,
// and without calling _initialize, which ran before the image — and writes them back. WASI's
// side holds nothing to carry: no files, stdio pointed at each invocation's buffers, env
// and args from the image. Refused (not_implemented): a reactor with a table that may have
// changed (any externref table, or a funcref table its code changes), or whose module
// cannot be read (wasmStatePlan.refuse).

// wasmWorkerImage is a WebAssembly worker's sandbox between invocations.
type wasmWorkerImage struct {
	main    string
	sum     [32]byte // SHA-256 of the main module's bytes (the module map has them)
	command bool
	env     [][2]string
	mem     []byte // the reactor's memory (nil: it has none)
	gvals   []uint64
}

func (wi *wasmWorkerImage) size() int {
	if wi == nil {
		return 0
	}
	return len(wi.mem) + 8*len(wi.gvals)
}

// snapshotWasm is Snapshot for a WebAssembly worker's sandbox; with view, the memory is
// read in place (Fork: the image is restored before sb runs again).
func (sb *Sandbox) snapshotWasm(view bool) (*Image, error) {
	w := sb.wasm
	switch {
	case sb.broken != nil:
		return nil, sb.broken
	case !sb.loaded || w.code == nil:
		return nil, isoerr.New(isoerr.NotImplemented, "a WebAssembly worker's sandbox has an image only once it is loaded")
	case sb.e.base == nil:
		return nil, isoerr.New(isoerr.NotImplemented, "snapshots need the base image (Config.NoImage is set)")
	}
	bin := sb.cfg.Modules[w.main].Content
	wi := &wasmWorkerImage{main: w.main, sum: sha256.Sum256(bin), command: w.code.command, env: w.env}
	if !wi.command {
		p := sb.e.wasmPlan(bin, wi.sum)
		if p.refuse != "" {
			return nil, isoerr.New(isoerr.NotImplemented, "an image of this WebAssembly worker cannot be taken: %s", p.refuse)
		}
		for _, t := range p.tables {
			if t.rt != 0x70 || t.changed {
				return nil, isoerr.New(isoerr.NotImplemented, "an image of this WebAssembly worker cannot be taken: its table %d may have changed since it was made, and tables of WebAssembly workers are not captured yet", t.index)
			}
		}
		if w.mod == nil || w.mod.IsClosed() {
			return nil, isoerr.New(isoerr.NotImplemented, "an image of this WebAssembly worker cannot be taken: its instance was stopped")
		}
		if mem := moduleMemory(w.mod); mem != nil {
			b, _ := mem.Read(0, mem.Size())
			if wi.mem = b; !view || b == nil {
				wi.mem = append([]byte{}, b...)
			}
		}
		for _, g := range p.globals {
			eg := w.mod.ExportedGlobal(p.globalName(g))
			if eg == nil {
				return nil, isoerr.New(isoerr.NotImplemented, "an image of this WebAssembly worker cannot be taken: its global %d cannot be read", g.index)
			}
			wi.gvals = append(wi.gvals, eg.Get())
		}
	}
	return &Image{base: sb.e.base.sum, baseData: sb.e.base.data, loaded: true, worker: wi}, nil
}

// restoreWasmWorker is Restore for the image of a WebAssembly worker's sandbox.
func (e *Engine) restoreWasmWorker(ctx context.Context, img *Image, cfg SandboxConfig) (*Sandbox, error) {
	wi := img.worker
	bad := func(format string, args ...any) error {
		return isoerr.New(isoerr.InvalidRequest, "image rejected: WebAssembly worker: "+format, args...)
	}
	if cfg.Python {
		return nil, isoerr.New(isoerr.InvalidRequest, "the image is of a WebAssembly worker, not a Python sandbox")
	}
	if cfg.Memory == 0 {
		cfg.Memory = DefaultLimits().Memory
	}
	if err := (Limits{Memory: cfg.Memory}).Validate(); err != nil {
		return nil, err
	}
	m, ok := cfg.Modules[wi.main]
	if !ok || m.Type != ModuleWasm || sha256.Sum256(m.Content) != wi.sum {
		return nil, bad("main module %q is not in the module map with the bytes the image was taken with", wi.main)
	}
	if uint64(len(wi.mem)) > cfg.Memory {
		return nil, isoerr.New(isoerr.MemoryLimitExceeded, "the image holds %d MiB of memory; the sandbox's limit is %d MiB", len(wi.mem)>>20, cfg.Memory>>20)
	}
	cfg.Wasm = true
	sb, err := e.newWasm(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Sandbox, error) {
		sb.Close(ctx)
		return nil, err
	}
	w := sb.wasm
	code, err := e.wasmCompileVariant(ctx, wi.main, m.Content, !wi.command)
	if err != nil {
		return fail(err)
	}
	w.main, w.code, w.env = wi.main, code, wi.env
	if code.command != wi.command {
		return fail(bad("the image says the module is a %s", map[bool]string{true: "command", false: "reactor"}[wi.command]))
	}
	if code.command {
		w.base = sb.wasmModuleConfig(deleteRequestVariables(wi.env))
		sb.loaded = true
		return sb, nil
	}
	p := e.wasmPlan(m.Content, wi.sum)
	if p.refuse != "" || len(wi.gvals) != len(p.globals) {
		return fail(bad("its state does not fit its module"))
	}
	mem := newLimitedMemory(cfg.Memory)
	sb.mem = mem // freed by Close
	mod, err := e.wasmInstantiate(ctx, code, sb.wasmModuleConfig(w.env).WithStdout(w.out).WithStderr(w.err), mem)
	if err != nil {
		if mod != nil {
			_ = mod.Close(ctx)
		}
		return fail(err)
	}
	w.mod = mod
	lm := moduleMemory(mod)
	switch {
	case (lm == nil) != (wi.mem == nil):
		return fail(bad("its memory does not match its module"))
	case lm != nil && (len(wi.mem)%wasmPage != 0 || uint64(len(wi.mem)) < uint64(lm.Size())):
		return fail(bad("a memory of %d bytes, not whole pages from its initial size", len(wi.mem)))
	case lm != nil:
		if grow := (uint64(len(wi.mem)) - uint64(lm.Size())) / wasmPage; grow > 0 {
			if _, ok := lm.Grow(uint32(grow)); !ok {
				return fail(bad("its memory of %d pages is past its maximum or the memory limit", len(wi.mem)/wasmPage))
			}
		}
		lm.Write(0, wi.mem)
	}
	for k, g := range p.globals {
		mg, ok := mod.ExportedGlobal(p.globalName(g)).(api.MutableGlobal)
		if !ok {
			return fail(bad("its global %d cannot be written", g.index))
		}
		mg.Set(wi.gvals[k])
	}
	sb.loaded = true
	return sb, nil
}

func deleteRequestVariables(env [][2]string) [][2]string {
	var out [][2]string
	for _, kv := range env {
		if !requestVariable(kv[0]) {
			out = append(out, kv)
		}
	}
	return out
}

// marshal writes wi deflated (the form of wasmjs_snapshot_wire.go: u32 counts, byte
// strings with a u32 length): main, sum, command flag, env pairs, memory flag and bytes,
// globals.
func (wi *wasmWorkerImage) marshal() ([]byte, error) {
	var w wasmImageWriter
	w.bytes([]byte(wi.main))
	w.b.Write(wi.sum[:])
	if wi.command {
		w.b.WriteByte(1)
	} else {
		w.b.WriteByte(0)
	}
	w.u32(len(wi.env))
	for _, kv := range wi.env {
		w.bytes([]byte(kv[0]))
		w.bytes([]byte(kv[1]))
	}
	if wi.mem == nil {
		w.b.WriteByte(0)
	} else {
		w.b.WriteByte(1)
		w.bytes(wi.mem)
	}
	w.u32(len(wi.gvals))
	for _, v := range wi.gvals {
		w.u64(v)
	}
	return deflateWasmImage(w.b.Bytes())
}

// unmarshalWasmWorkerImage reads what marshal wrote, every length bounded before it is used.
func unmarshalWasmWorkerImage(z []byte) (*wasmWorkerImage, error) {
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), MaxMemory+1<<20))
	if err != nil {
		return nil, fmt.Errorf("does not decompress: %v", err)
	}
	r := &wasmImageReader{b: raw}
	wi := &wasmWorkerImage{main: string(r.bytes(1 << 10))}
	copy(wi.sum[:], r.take(32))
	switch r.byte() {
	case 0:
	case 1:
		wi.command = true
	default:
		r.fail("bad command flag")
	}
	for n := r.count(1<<16, 8); n > 0 && r.err == nil; n-- {
		wi.env = append(wi.env, [2]string{string(r.bytes(1 << 20)), string(r.bytes(1 << 24))})
	}
	switch r.byte() {
	case 0:
	case 1:
		if wi.mem = r.bytes(MaxMemory); wi.mem == nil {
			wi.mem = []byte{}
		}
	default:
		r.fail("bad memory flag")
	}
	for n := r.count(1<<20, 8); n > 0 && r.err == nil; n-- {
		wi.gvals = append(wi.gvals, r.u64())
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return wi, nil
}
