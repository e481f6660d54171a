package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isobox/isobox/isoerr"
)

// Images of JavaScript sandboxes that hold WebAssembly instances (wasmjs.go). An instance
// lives outside the sandbox's linear memory, so an image (Snapshot, Fork, hibernation)
// carries, besides QuickJS's memory, a wasmImage: for every live module handle the bytes
// it was compiled from; for every cell (a mutable WebAssembly.Global held in the host) its
// value; for every instance how it was made (its module's bytes, the global and memory
// imports JavaScript gave, by value or by handle) and its state: its linear memory, its
// mutable globals and its externref tables. The JavaScript side (handles, import
// functions, Memory.buffer copies, externref values) lives in QuickJS's memory, which the
// image has already; handles keep their numbers, so it finds everything where it was.
//
// Restoring instantiates every instance again, in handle order (an instance's imports are
// older than it), from a compilation of its bytes without the start section (the start
// function ran before the image was taken), then writes the state back. wazero's API
// reaches only exported globals and tables, so every module is compiled from a rewrite of
// its bytes that also exports each mutable global it defines and each table under reserved
// names (wasmStatePrefix); the guest's descriptors come from the original bytes and never
// show them.
//
// What JavaScript stores into funcref tables (wasm_table set/grow) is recorded and
// replayed after the instances are made again (opWasmTableLogged). What is not captured is
// refused with not_implemented naming it, never restored wrong: a funcref table the
// module's own code may change (it has a table.set, table.grow, table.fill, table.copy or
// table.init on it), as a function reference cannot be read through wazero's API, or one
// JavaScript changed more than maxWasmTableOps times; a mutable funcref
// or v128 global; a module importing a table; an instance a limit stopped; an instance
// importing a global of an instance or WebAssembly.Global already released. A dropped
// passive data or element segment comes back undropped (memory.init after data.drop,
// which traps before the image, works after it); toolchains drop segments only after
// copying them, once.

// wasmStatePrefix starts the reserved export names of the rewrite.
const wasmStatePrefix = "\x00isobox:"

// maxWasmJSKeptBytes bounds the bytes of modules compiled from the guest's bytes that one
// sandbox keeps (each distinct module once, while it or an instance of it lives) for its
// images; a module past it is compiled as usual, and an image of the sandbox refused.
const maxWasmJSKeptBytes = 64 << 20

// wasmSource is the bytes modules and instances of one content came from.
type wasmSource struct {
	w       *wasmJS
	sum     [32]byte
	name    string // the module map's name (fromMap), else "<bytes>"
	bin     []byte // nil: not kept (maxWasmJSKeptBytes)
	fromMap bool   // bin is the worker's module name: an image on disk names it instead
	plan    *wasmStatePlan
	refs    int
}

// source returns the sandbox's source for bin, taking a reference (release gives it back).
func (w *wasmJS) source(e *Engine, name string, bin []byte, fromMap bool) *wasmSource {
	sum := sha256.Sum256(bin)
	if s := w.sources[sum]; s != nil {
		s.refs++
		if s.bin == nil && fromMap {
			s.bin, s.fromMap, s.name = bin, true, name
		}
		return s
	}
	s := &wasmSource{w: w, sum: sum, name: name, fromMap: fromMap, plan: e.wasmPlan(bin, sum), refs: 1}
	switch {
	case fromMap:
		s.bin = bin // the worker's own copy, not the guest's memory
	case w.kept+len(bin) <= maxWasmJSKeptBytes:
		s.bin = bytes.Clone(bin) // bin is a view of the guest's memory
		w.kept += len(bin)
	}
	if w.sources == nil {
		w.sources = map[[32]byte]*wasmSource{}
	}
	w.sources[sum] = s
	return s
}

// release gives back a reference taken by source or origin.
func (s *wasmSource) release() {
	if s == nil {
		return
	}
	if s.refs--; s.refs == 0 {
		delete(s.w.sources, s.sum)
		if !s.fromMap {
			s.w.kept -= len(s.bin)
		}
	}
}

// maxWasmTableOps bounds the funcref table operations a sandbox records for its images;
// past it (or for a payload over maxWasmTableOpBytes) the instance's images are refused.
const (
	maxWasmTableOps     = 4096
	maxWasmTableOpBytes = 256 // a payload is ~60 bytes and an export name; 1 MiB of host memory at most
)

// wasmTableOp is one wasm_table operation JavaScript made on a funcref table (Table.set or
// grow): an image replays them, in order, on the instances made again, whose funcref tables
// are otherwise as their element segments made them.
type wasmTableOp struct {
	handle  int
	payload []byte // wasm_table's JSON
}

// opWasmTableLogged is wasm_table (wasmjs_tables.go), recording what JavaScript stores into
// funcref tables.
func (sb *Sandbox) opWasmTableLogged(in []byte) ([]byte, error) {
	var a struct {
		Instance, Cell uint32
		Name, Op       string
	}
	if err := decode("wasm_table", in, &a); err != nil {
		return nil, err
	}
	if strings.HasPrefix(a.Name, wasmStatePrefix) { // the images' own exports
		return nil, typeError("WebAssembly.Table: the instance exports no table %q", a.Name)
	}
	out, err := sb.opWasmTable(in)
	if err != nil || len(out) == 0 || out[0] != 'f' || (a.Op != "set" && a.Op != "grow") || a.Cell != 0 {
		return out, err // a table cell's images are refused (captureWasmJS): nothing to record
	}
	w := sb.wjs
	if inst := w.insts[int(a.Instance)]; inst != nil {
		if len(w.tables) >= maxWasmTableOps || len(in) > maxWasmTableOpBytes {
			inst.origin.funcTableSet = true
		} else {
			w.tables = append(w.tables, wasmTableOp{handle: int(a.Instance), payload: bytes.Clone(in)})
		}
	}
	return out, nil
}

// wasmOrigin is how an instance was made: its module's bytes and the imports JavaScript
// gave (wasm_instantiate).
type wasmOrigin struct {
	src          *wasmSource
	globals      []wasmGlobalLink
	mem          *wasmMemoryLink
	funcTableSet bool // JavaScript changed a funcref table of it more than the log keeps (maxWasmTableOps)
}

// origin takes a reference on s for an instance made with these imports.
func (s *wasmSource) origin(globals []wasmGlobalLink, mem *wasmMemoryLink) wasmOrigin {
	if s != nil {
		s.refs++
	}
	return wasmOrigin{src: s, globals: globals, mem: mem}
}

// wasmImage is the WebAssembly side of a sandbox's image. It is never changed once made:
// one image restores many sandboxes.
type wasmImage struct {
	next   int
	srcs   []wasmSourceImage
	mods   []wasmModImage
	cells  []wasmCellImage
	insts  []wasmInstImage
	tables []wasmTableOp // replayed after the instances are made
	frefs  []wasmFuncRefImage
}

// wasmFuncRefImage is a function handle JavaScript held (wasmjs_funcref.go), which a
// restore references again under the same handle: an exported function of an instance, or
// (export "") the element at index of its funcref table (the table's index) as its element
// segments make it (locateFuncRefs).
type wasmFuncRefImage struct {
	owner  int // the instance handle
	export string
	table  uint32
	index  uint32
}

type wasmSourceImage struct {
	name    string
	sum     [32]byte
	bin     []byte // nil in an image read from disk when fromMap: the module map has it
	fromMap bool
}

type wasmModImage struct{ handle, src int }

type wasmCellImage struct {
	handle int
	letter byte
	bits   uint64
}

type wasmInstImage struct {
	handle  int
	src     int
	globals []wasmGlobalLink // the imports JavaScript gave
	memLink *wasmMemoryLink
	mem     []byte     // its linear memory (nil: it has none)
	gvals   []uint64   // its plan's globals, in order
	tables  [][]uint64 // its plan's externref tables' elements, in order
	flags   byte       // wasmInstPinned, wasmInstReleased
}

// The flags of a wasmInstImage.
const (
	wasmInstPinned   = 1 << iota // kept until the sandbox closes (jsWasmInstance.pinned)
	wasmInstReleased             // the guest dropped it while pinned
)

// size is the bytes the image holds.
func (wi *wasmImage) size() int {
	if wi == nil {
		return 0
	}
	n := 0
	for _, in := range wi.insts {
		n += len(in.mem) + 8*len(in.gvals)
		for _, t := range in.tables {
			n += 8 * len(t)
		}
	}
	for _, s := range wi.srcs {
		if !s.fromMap {
			n += len(s.bin)
		}
	}
	for _, op := range wi.tables {
		n += len(op.payload)
	}
	for _, f := range wi.frefs {
		n += 8 + len(f.export)
	}
	return n
}

func wasmRefused(format string, args ...any) error {
	return isoerr.New(isoerr.NotImplemented, "an image of this sandbox cannot be taken: "+format, args...)
}

// captureWasmJS returns the WebAssembly side of an image of sb (nil when it never used
// WebAssembly), or not_implemented naming what cannot be captured. With view, the
// instances' memories are not copied: the image is good only until sb runs again (a fork
// restores it at once).
func (sb *Sandbox) captureWasmJS(view bool) (*wasmImage, error) {
	w := sb.wjs
	if w == nil {
		return nil, nil
	}
	// What wasm-link added and an image does not capture (RATIONALE §52): a table made in
	// JavaScript (its funcref elements are references), a mutable funcref global made in
	// JavaScript, a function handle that is not an export.
	if len(w.tcells) > 0 {
		return nil, wasmRefused("an instance imports a WebAssembly.Table made in JavaScript; shared tables are not captured yet")
	}
	for _, c := range w.cells {
		if g := c.mod.ExportedGlobal("g"); g.Type() == 0x70 {
			return nil, wasmRefused("an instance imports a mutable WebAssembly.Global of type anyfunc; function references in globals are not captured yet")
		}
	}
	wi := &wasmImage{next: w.next}
	located := map[*jsWasmInstance]map[[2]uintptr][2]uint32{}
	budget := maxWasmLocateSlots
	for _, f := range w.frefs {
		if w.insts[f.handle] != f.owner {
			return nil, wasmRefused("JavaScript holds a function of an instance that is gone")
		}
		fi := wasmFuncRefImage{owner: f.handle, export: f.export}
		if f.export == "" && f.at != nil { // where a restore or an earlier image found it
			fi.table, fi.index = f.at[0], f.at[1]
		} else if f.export == "" {
			at, ok := located[f.owner]
			if !ok {
				at = sb.locateFuncRefs(f.owner, &budget)
				located[f.owner] = at
			}
			loc, ok := at[funcrefKey(f.raw)]
			if !ok {
				return nil, wasmRefused("JavaScript holds a reference to a function of instance %d that is neither one of its exports nor "+
					"an element its funcref tables hold as their element segments made them (a result, a global or its code gave it)", f.handle)
			}
			fi.table, fi.index = loc[0], loc[1]
			f.at = &loc // it stays there in the tables as made, whatever JavaScript sets later
		}
		wi.frefs = append(wi.frefs, fi)
	}
	srcIdx := map[*wasmSource]int{}
	addSrc := func(s *wasmSource, what string) (int, error) {
		if s == nil || s.bin == nil {
			return 0, wasmRefused("the bytes of WebAssembly module %s were not kept (a sandbox keeps at most %d MiB of modules compiled from bytes)", what, maxWasmJSKeptBytes>>20)
		}
		if i, ok := srcIdx[s]; ok {
			return i, nil
		}
		srcIdx[s] = len(wi.srcs)
		wi.srcs = append(wi.srcs, wasmSourceImage{name: s.name, sum: s.sum, bin: s.bin, fromMap: s.fromMap})
		return len(wi.srcs) - 1, nil
	}
	for _, h := range slices.Sorted(mapKeys(w.modules)) {
		i, err := addSrc(w.modules[h].src, strconv.Quote(w.modules[h].name))
		if err != nil {
			return nil, err
		}
		wi.mods = append(wi.mods, wasmModImage{handle: h, src: i})
	}
	for _, h := range slices.Sorted(mapKeys(w.cells)) {
		g := w.cells[h].mod.ExportedGlobal("g")
		wi.cells = append(wi.cells, wasmCellImage{handle: h, letter: wasmTypeLetters[g.Type()], bits: g.Get()})
	}
	for _, h := range slices.Sorted(mapKeys(w.insts)) {
		in := w.insts[h]
		ii, err := sb.captureInstance(h, in, addSrc, view)
		if err != nil {
			return nil, err
		}
		wi.insts = append(wi.insts, ii)
	}
	for _, op := range w.tables {
		if w.insts[op.handle] != nil { // a released instance's tables are gone
			wi.tables = append(wi.tables, op)
		}
	}
	return wi, nil
}

func (sb *Sandbox) captureInstance(h int, in *jsWasmInstance, addSrc func(*wasmSource, string) (int, error), view bool) (wasmInstImage, error) {
	w := sb.wjs
	o := in.origin
	what := "instance " + strconv.Itoa(h)
	if o.src != nil {
		what = fmt.Sprintf("an instance of module %q", o.src.name)
	}
	if in.dead != nil || in.mod.IsClosed() {
		return wasmInstImage{}, wasmRefused("%s was stopped by a limit", what)
	}
	if in.memOwner != nil || (o.mem != nil && o.mem.Instance != 0) {
		return wasmInstImage{}, wasmRefused("%s shares the memory of another instance (one WebAssembly.Memory imported by two); shared memories are not captured yet", what)
	}
	si, err := addSrc(o.src, what)
	if err != nil {
		return wasmInstImage{}, err
	}
	p := o.src.plan
	if p.refuse != "" {
		return wasmInstImage{}, wasmRefused("the state of %s cannot be read: %s", what, p.refuse)
	}
	for _, l := range o.globals {
		if (l.Bits == nil && l.Cell != 0 && w.cells[l.Cell] == nil) || (l.Bits == nil && l.Instance != 0 && w.insts[l.Instance] == nil) {
			return wasmInstImage{}, wasmRefused("%s imports a global of a WebAssembly.Global or instance that was released", what)
		}
	}
	ii := wasmInstImage{handle: h, src: si, globals: o.globals, memLink: o.mem}
	if in.pinned {
		ii.flags |= wasmInstPinned
	}
	if in.released {
		ii.flags |= wasmInstReleased
	}
	if mem := moduleMemory(in.mod); mem != nil {
		b, _ := mem.Read(0, mem.Size())
		if ii.mem = b; !view {
			ii.mem = bytes.Clone(b)
		}
		if ii.mem == nil {
			ii.mem = []byte{}
		}
	}
	for _, g := range p.globals {
		eg := in.mod.ExportedGlobal(p.globalName(g))
		if eg == nil {
			return wasmInstImage{}, wasmRefused("the global %d of %s cannot be read", g.index, what)
		}
		ii.gvals = append(ii.gvals, eg.Get())
	}
	for _, t := range p.tables {
		if t.rt == 0x70 {
			if t.changed || o.funcTableSet {
				return wasmInstImage{}, wasmRefused("%s has a function table (funcref) that may have changed since it was made "+
					"(its code changes tables, or JavaScript changed one more than %d times); function references cannot be captured yet", what, maxWasmTableOps)
			}
			continue // as its element segments make it again
		}
		a, err := sb.tableAccess(in, p.tableName(t))
		if err != nil || !a.externref {
			return wasmInstImage{}, wasmRefused("the table %d of %s cannot be read", t.index, what)
		}
		ctx := context.Background()
		res, err := a.size.Call(ctx)
		if err != nil {
			return wasmInstImage{}, wasmRefused("the table %d of %s cannot be read", t.index, what)
		}
		elems := make([]uint64, uint32(res[0]))
		for i := range elems {
			v, err := a.get.Call(ctx, uint64(i))
			if err != nil {
				return wasmInstImage{}, wasmRefused("the table %d of %s cannot be read", t.index, what)
			}
			elems[i] = v[0]
		}
		ii.tables = append(ii.tables, elems)
	}
	return ii, nil
}

// maxWasmLocateSlots bounds the table slots one image reads to find the functions JavaScript
// holds that are not exports (locateFuncRefs): a hostile guest's 2^20-element tables cost
// an image at most this many accessor calls; a function not found within is refused.
const maxWasmLocateSlots = 1 << 18

// locateFuncRefs answers where in's funcref tables hold each function as their element
// segments made them (the table's index, the element's index): the slots below the size
// before JavaScript's recorded growths that no recorded operation set. A table its code may
// change is not read (its images are refused). A restore makes the instance again with
// its element segments and finds the same function there, before replaying the operations.
func (sb *Sandbox) locateFuncRefs(in *jsWasmInstance, budget *int) map[[2]uintptr][2]uint32 {
	w := sb.wjs
	at := map[[2]uintptr][2]uint32{}
	if in.origin.src == nil || in.origin.src.plan.refuse != "" || in.origin.funcTableSet {
		return at
	}
	p := in.origin.src.plan
	h := -1
	for k, v := range w.insts {
		if v == in {
			h = k
		}
	}
	// Which slots JavaScript set, and by how much it grew the tables: by any name, as a table
	// may be exported twice.
	touched := map[uint32]bool{}
	grown := uint64(0)
	for _, op := range w.tables {
		if op.handle != h {
			continue
		}
		var a struct {
			Op           string
			Index, Delta uint32
		}
		if decode("wasm_table", op.payload, &a) != nil {
			return map[[2]uintptr][2]uint32{}
		}
		if a.Op == "set" {
			touched[a.Index] = true
		} else {
			grown += uint64(a.Delta)
		}
	}
	ctx := context.Background()
	for _, t := range p.tables {
		if t.rt != 0x70 || t.changed {
			continue
		}
		a, err := sb.tableAccess(in, p.tableName(t))
		if err != nil || a.externref {
			continue
		}
		res, err := a.size.Call(ctx)
		if err != nil {
			continue
		}
		size := uint64(uint32(res[0]))
		for i := uint64(0); i+grown < size && *budget > 0; i++ {
			if touched[uint32(i)] {
				continue
			}
			*budget--
			v, err := a.get.Call(ctx, i)
			if err != nil || v[0] == 0 {
				continue
			}
			if _, dup := at[funcrefKey(v[0])]; !dup {
				at[funcrefKey(v[0])] = [2]uint32{t.index, uint32(i)}
			}
		}
	}
	return at
}

func mapKeys[V any](m map[int]V) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// restoreWasmJS makes wi's modules, cells and instances in sb, a sandbox just restored
// from the image's memory (its module map in sb.cfg). On an error the caller closes sb.
//
// # Errors
//
// invalid_request for an image that does not fit what it names (a module missing from the
// module map or with other bytes, an import that does not link, a state of the wrong
// shape); memory_limit_exceeded when the instances' memories do not fit the sandbox's limit.
func (sb *Sandbox) restoreWasmJS(ctx context.Context, wi *wasmImage) error {
	if wi == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return isoerr.New(isoerr.InvalidRequest, "image rejected: WebAssembly state: "+format, args...)
	}
	w := sb.wasmJSState()
	w.next = wi.next
	bins := make([][]byte, len(wi.srcs))
	for i, s := range wi.srcs {
		bins[i] = s.bin
		if bins[i] == nil {
			m, ok := sb.cfg.Modules[s.name]
			if !ok || m.Type != ModuleWasm || sha256.Sum256(m.Content) != s.sum {
				return bad("wasm module %q is not in the worker's module map with the bytes the image was taken with", s.name)
			}
			bins[i] = m.Content
		}
	}
	for _, mi := range wi.mods {
		s := wi.srcs[mi.src]
		m, err := sb.newJSWasmModule(s.name, bins[mi.src], s.fromMap, false)
		if err != nil {
			return bad("module %q: %v", s.name, err)
		}
		w.modules[mi.handle] = m
	}
	for _, c := range wi.cells {
		if c.letter == 'a' { // its bits would be a reference: never from an image
			return bad("a WebAssembly.Global of type anyfunc")
		}
		cm, err := w.cellCode(ctx, sb.e.wasm.rt, c.letter)
		if err != nil {
			return bad("a WebAssembly.Global of type %q", c.letter)
		}
		mod, err := sb.e.wasm.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			return fmt.Errorf("instantiating a global cell: %w", err)
		}
		mod.ExportedGlobal("g").(api.MutableGlobal).Set(c.bits)
		if w.cells == nil {
			w.cells = map[int]*wasmCell{}
		}
		w.cells[c.handle] = &wasmCell{mod: mod}
	}
	// The modules instances are made from, without their start functions: one per source.
	restoreMods := map[int]*jsWasmModule{}
	defer func() {
		for _, m := range restoreMods {
			m.close()
			sb.e.wasmRelease(ctx, m.code)
		}
	}()
	// Function handles come back as their owners do: a later instance may import one (an
	// immutable funcref global); until then a handle is a placeholder no link accepts.
	w.frefs = make([]*wasmFuncRef, len(wi.frefs))
	for i := range w.frefs {
		w.frefs[i] = &wasmFuncRef{typ: -1}
	}
	w.frefKeys = map[[2]uintptr]uint32{}
	for _, ii := range wi.insts {
		m := restoreMods[ii.src]
		if m == nil {
			s := wi.srcs[ii.src]
			var err error
			if m, err = sb.newJSWasmModule(s.name, bins[ii.src], s.fromMap, true); err != nil {
				return bad("module %q: %v", s.name, err)
			}
			restoreMods[ii.src] = m
		}
		in, err := sb.reinstantiate(ctx, m, ii)
		if err != nil {
			return err
		}
		w.insts[ii.handle] = in
		for i, f := range wi.frefs {
			if f.owner != ii.handle {
				continue
			}
			raw, err := sb.funcRefAgain(in, f)
			if err != nil {
				return bad("function handle %d: %v", i+1, err)
			}
			in.pinned = true
			w.frefs[i] = &wasmFuncRef{raw: raw, owner: in, handle: ii.handle, export: f.export, typ: -1}
			if f.export == "" {
				w.frefs[i].at = &[2]uint32{f.table, f.index}
			}
			w.frefKeys[funcrefKey(raw)] = uint32(i + 1)
		}
	}
	for i, f := range w.frefs {
		if f.owner == nil {
			return bad("function handle %d names no instance", i+1)
		}
	}
	for _, op := range wi.tables {
		if w.insts[op.handle] == nil {
			return bad("a table operation on %d, not an instance", op.handle)
		}
		if _, err := sb.opWasmTable(op.payload); err != nil {
			return bad("a table operation cannot be replayed: %v", err)
		}
	}
	w.tables = slices.Clone(wi.tables) // the sandbox appends to its own
	return nil
}

// funcRefAgain is the reference f names in in, an instance just made again (its funcref
// tables as its element segments made them).
func (sb *Sandbox) funcRefAgain(in *jsWasmInstance, f wasmFuncRefImage) (uint64, error) {
	if f.export != "" {
		if err := sb.exportRefs(in); err != nil {
			return 0, err
		}
		raw, ok := in.exportRaw[f.export]
		if !ok {
			return 0, fmt.Errorf("instance %d exports no function %q", f.owner, f.export)
		}
		return raw, nil
	}
	p := in.origin.src.plan
	for _, t := range p.tables {
		if t.index != f.table || t.rt != 0x70 || t.changed {
			continue
		}
		a, err := sb.tableAccess(in, p.tableName(t))
		if err != nil || a.externref {
			break
		}
		v, err := a.get.Call(context.Background(), uint64(f.index))
		if err != nil || v[0] == 0 {
			return 0, fmt.Errorf("instance %d's table %d holds no function at %d", f.owner, f.table, f.index)
		}
		return v[0], nil
	}
	return 0, fmt.Errorf("instance %d has no funcref table %d", f.owner, f.table)
}

// reinstantiate makes an instance of m (compiled without its start function) as ii was
// made, and gives it ii's state.
func (sb *Sandbox) reinstantiate(ctx context.Context, m *jsWasmModule, ii wasmInstImage) (_ *jsWasmInstance, err error) {
	bad := func(format string, args ...any) error {
		return isoerr.New(isoerr.InvalidRequest, "image rejected: WebAssembly instance %d: "+format, append([]any{ii.handle}, args...)...)
	}
	w := sb.wjs
	p := m.src.plan
	switch {
	case m.linkErr != nil:
		return nil, bad("%v", m.linkErr)
	case p.refuse != "":
		return nil, bad("its module's state cannot be written: %s", p.refuse)
	case (m.memImport != nil) != (ii.memLink != nil):
		return nil, bad("its memory import does not match its module")
	case len(ii.gvals) != len(p.globals):
		return nil, bad("%d globals for %d", len(ii.gvals), len(p.globals))
	}
	if err := sb.wasmImportSetup(ctx, m); err != nil {
		return nil, bad("%v", err)
	}
	ih := ii.handle
	imps, err := sb.wasmImportInstances(ctx, m, &ih)
	if err != nil {
		return nil, bad("%v", err)
	}
	mem := &jsWasmMemory{limitedMemory: w.takeSpare(sb.mem.limit), w: w, sb: sb}
	var mod api.Module
	fail := func(e error) (*jsWasmInstance, error) {
		if mod != nil {
			_ = mod.Close(ctx) // frees mem
		} else {
			mem.Free()
		}
		closeAll(imps)
		return nil, e
	}
	if len(m.globals) > 0 || m.memImport != nil {
		if ii.memLink != nil && m.memImport.Maximum != nil && (ii.memLink.Maximum == nil || *ii.memLink.Maximum > *m.memImport.Maximum) {
			return fail(bad("its memory import does not fit its module's limits"))
		}
		if _, err := sb.wasmLinkModules(ctx, m, imps, ii.globals, ii.memLink, nil, mem, nil); err != nil {
			return fail(bad("%v", err))
		}
	}
	if mem.refused.Load() {
		return fail(sb.memoryError())
	}
	func() {
		ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
			func(cap, max uint64) experimental.LinearMemory { return mem }))
		ictx = experimental.WithImportResolver(ictx, func(name string) api.Module { return imps[name] })
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		mod, err = sb.e.wasm.rt.InstantiateModule(ictx, m.code.cm, w.config())
	}()
	if mem.refused.Load() {
		mem.refused.Store(false)
		return fail(sb.memoryError())
	}
	if err != nil {
		return fail(bad("%v", trapMessage(err)))
	}
	// The state.
	lm := moduleMemory(mod)
	switch {
	case (lm == nil) != (ii.mem == nil):
		return fail(bad("its memory does not match its module"))
	case lm != nil && (len(ii.mem)%wasmPage != 0 || uint64(len(ii.mem)) < uint64(lm.Size())):
		return fail(bad("a memory of %d bytes, not whole pages from its initial size", len(ii.mem)))
	case lm != nil:
		if grow := (uint64(len(ii.mem)) - uint64(lm.Size())) / wasmPage; grow > 0 {
			if _, ok := lm.Grow(uint32(grow)); !ok {
				if mem.refused.Load() {
					mem.refused.Store(false)
					return fail(sb.memoryError())
				}
				return fail(bad("its memory of %d pages is past its maximum", len(ii.mem)/wasmPage))
			}
		}
		lm.Write(0, ii.mem)
	}
	for k, g := range p.globals {
		mg, ok := mod.ExportedGlobal(p.globalName(g)).(api.MutableGlobal)
		if !ok {
			return fail(bad("its global %d cannot be written", g.index))
		}
		mg.Set(ii.gvals[k])
	}
	in := &jsWasmInstance{mod: mod, mem: mem, code: m.code, fnNames: m.fnNames, imps: imps, types: m.types, funcs: m.funcs,
		origin:   m.src.origin(ii.globals, ii.memLink),
		pinned:   ii.flags&wasmInstPinned != 0,
		released: ii.flags&wasmInstReleased != 0}
	// Where a next instance imports its memory from (opWasmInstantiate).
	if m.memImport != nil {
		in.memSrc, in.memName = imps[m.memImport.Module], m.memImport.Name
	} else if lm != nil {
		for _, e := range m.exports {
			if e.Kind == "memory" {
				in.memSrc, in.memName = mod, e.Name
				break
			}
		}
	}
	k := 0
	for _, t := range p.tables {
		if t.rt != 0x6f {
			continue
		}
		if k >= len(ii.tables) {
			in.origin.src.release()
			return fail(bad("fewer tables than its module has"))
		}
		if err := sb.writeTable(in, p.tableName(t), ii.tables[k]); err != nil {
			for _, a := range in.tables {
				_ = a.mod.Close(ctx)
			}
			in.origin.src.release()
			return fail(bad("table %d: %v", t.index, err))
		}
		k++
	}
	if k != len(ii.tables) {
		for _, a := range in.tables {
			_ = a.mod.Close(ctx)
		}
		in.origin.src.release()
		return fail(bad("more tables than its module has"))
	}
	sb.e.wasmRetain(m.code) // the instance outlives the module made for the restore
	return in, nil
}

// writeTable sets an externref table to elems (its size and elements).
func (sb *Sandbox) writeTable(in *jsWasmInstance, name string, elems []uint64) error {
	a, err := sb.tableAccess(in, name)
	if err != nil {
		return err
	}
	if !a.externref {
		return fmt.Errorf("not an externref table")
	}
	ctx := context.Background()
	res, err := a.size.Call(ctx)
	if err != nil {
		return err
	}
	size := uint64(uint32(res[0]))
	if uint64(len(elems)) < size {
		return fmt.Errorf("%d elements, fewer than its initial %d", len(elems), size)
	}
	if grow := uint64(len(elems)) - size; grow > 0 {
		if res, err := a.grow.Call(ctx, 0, grow); err != nil || int32(res[0]) == -1 {
			return fmt.Errorf("%d elements are past its maximum", len(elems))
		}
	}
	for i, v := range elems {
		if _, err := a.set.Call(ctx, uint64(i), v); err != nil {
			return err
		}
	}
	return nil
}

// moduleMemory is mod's memory, or nil: wazero answers a typed nil for a module without one.
func moduleMemory(mod api.Module) api.Memory {
	m := mod.Memory()
	if m == nil || reflect.ValueOf(m).IsNil() {
		return nil
	}
	return m
}
