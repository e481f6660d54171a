package engine

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of runtime/doc.go")

const (
	docFile   = "../runtime/doc.go"
	docBegin  = "// ---- generated from engine.hostOps and engine.asyncOps ----\n"
	docEnd    = "// ---- end of the generated text ----\n"
	glueFile  = "js/build/glue.c"
	prelude   = "py/prelude.py"
	jsSources = "../runtime/js/*.js"
)

// The package comment of runtime carries the host-op tables as they are in the code.
func TestHostOpsDocumented(t *testing.T) {
	src, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	a, b := bytes.Index(src, []byte(docBegin)), bytes.Index(src, []byte(docEnd))
	if a < 0 || b < a {
		t.Fatalf("%s lacks the markers %q and %q", docFile, docBegin, docEnd)
	}
	var want bytes.Buffer
	renderContract(&want)
	got := src[a+len(docBegin) : b]
	if bytes.Equal(got, want.Bytes()) {
		return
	}
	if *update {
		out := append(append(append([]byte(nil), src[:a+len(docBegin)]...), want.Bytes()...), src[b:]...)
		if err := os.WriteFile(docFile, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s does not document the host operations as engine/hostcall.go defines them; run go test ./engine -run TestHostOpsDocumented -update", docFile)
}

// A host-call site: the op name (or, for a template literal, the text before its first
// substitution), where, and whether it is asynchronous.
type callSite struct {
	op     string
	prefix bool
	async  bool
	where  string
}

var (
	// host.call("x", ...), host.bytes(`x${y}`, ...), and 00_host.js's and 30_url.js's
	// captured forms rawCall / hostCall
	jsSyncCall  = regexp.MustCompile(`\b(?:host\.call|host\.bytes|rawCall|rawBytes|hostCall)\(\s*([^,)]*)`)
	jsAsyncCall = regexp.MustCompile(`\bhost\.startOp\(\s*([^,)]*)`)
	cHostCall   = regexp.MustCompile(`\bcall_host\("([^"]*)",\s*(\d+),`)
	// the Python prelude's _host("x", ...), _op("x", ...) and _op("fs_" + name, ...)
	pySyncCall  = regexp.MustCompile(`\b_host\(\s*"([^"]*)"`)
	pyAsyncCall = regexp.MustCompile(`\b_op\(\s*"([^"]*)"(\s*\+)?`)
	literal     = regexp.MustCompile("^(?:\"([^\"\\\\]*)\"|`([^`$]*)(\\$\\{)?[^`]*`)$")
)

// callSites finds every host call of the runtime's JS, of the glue and of the Python
// prelude.
func callSites(t *testing.T) []callSite {
	files, err := filepath.Glob(jsSources)
	if err != nil || len(files) == 0 {
		t.Fatalf("no runtime sources at %s: %v", jsSources, err)
	}
	var sites []callSite
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for ln, line := range strings.Split(string(src), "\n") {
			where := filepath.Base(f) + ":" + strconv.Itoa(ln+1)
			for _, re := range []*regexp.Regexp{jsSyncCall, jsAsyncCall} {
				for _, m := range re.FindAllStringSubmatch(line, -1) {
					arg := strings.TrimSpace(m[1])
					if filepath.Base(f) == "00_host.js" && arg == "op" {
						continue // host.call and host.bytes themselves: (op, payload) => rawCall(op, payload)
					}
					if filepath.Base(f) == "00_host.js" && arg == "kind" {
						continue
					}
					lm := literal.FindStringSubmatch(arg)
					if lm == nil {
						t.Errorf("%s: a host call whose op is not a string literal (%s): name the op at the call site", where, arg)
						continue
					}
					s := callSite{op: lm[1] + lm[2], prefix: lm[3] != "", async: re == jsAsyncCall, where: where}
					sites = append(sites, s)
				}
			}
		}
	}
	glue, err := os.ReadFile(glueFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cHostCall.FindAllStringSubmatch(string(glue), -1) {
		if n, _ := strconv.Atoi(m[2]); n != len(m[1]) {
			t.Errorf("glue.c: call_host(%q, %d): the length is %d", m[1], n, len(m[1]))
		}
		sites = append(sites, callSite{op: m[1], where: "glue.c"})
	}
	py, err := os.ReadFile(prelude)
	if err != nil {
		t.Fatal(err)
	}
	for ln, line := range strings.Split(string(py), "\n") {
		where := "prelude.py:" + strconv.Itoa(ln+1)
		for _, m := range pySyncCall.FindAllStringSubmatch(line, -1) {
			sites = append(sites, callSite{op: m[1], where: where})
		}
		for _, m := range pyAsyncCall.FindAllStringSubmatch(line, -1) {
			sites = append(sites, callSite{op: m[1], prefix: m[2] != "", async: true, where: where})
		}
	}
	return sites
}

// Every host call of the runtime and the glue names an operation of the tables, and every
// operation of the tables is called somewhere: the JS side and the host cannot drift.
func TestHostCallSites(t *testing.T) {
	used := map[string]bool{}
	for _, s := range callSites(t) {
		table, m := hostOps, hostOpByName
		if s.async {
			table, m = asyncOps, asyncOpByName
		}
		if !s.prefix {
			if m[s.op] == nil {
				t.Errorf("%s: host operation %q is not in the table (engine/hostcall.go)", s.where, s.op)
			}
			used[s.op] = true
			continue
		}
		n := 0
		for _, o := range table {
			if strings.HasPrefix(o.name, s.op) {
				used[o.name] = true
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no host operation starts with %q", s.where, s.op)
		}
	}
	for _, table := range [][]hostOp{hostOps, asyncOps} {
		for _, o := range table {
			if !used[o.name] {
				t.Errorf("host operation %q is in the table but nothing in runtime/js, glue.c or prelude.py calls it", o.name)
			}
			if o.in == "" || o.out == "" || o.doc == "" {
				t.Errorf("host operation %q is not fully documented (in, out, doc)", o.name)
			}
			if (o.sync == nil) == (o.async == nil) || (o.async != nil) != (table[0].async != nil) {
				t.Errorf("host operation %q is in the wrong table", o.name)
			}
		}
	}
}

var (
	cImport = regexp.MustCompile(`IMPORT\("(\w+)"\)\s+(\w+)\s+\w+\(([^)]*)\)`)
	cEnum   = regexp.MustCompile(`(?s)enum\s*\{\s*(OP_\w+\s*=\s*1\s*,.*?)\}`)
	cCase   = regexp.MustCompile(`case (OP_\w+):`)
)

// The glue's imports are the host module's functions (same names, same number of
// parameters and results), and its ib_call numbering (the OP_* enum) is the Go side's.
func TestGlueNumbering(t *testing.T) {
	b, err := os.ReadFile(glueFile)
	if err != nil {
		t.Fatal(err)
	}
	glue := string(b)

	imports := map[string]*hostImport{}
	for i := range hostImports {
		imports[hostImports[i].name] = &hostImports[i]
	}
	seen := map[string]bool{}
	for _, m := range cImport.FindAllStringSubmatch(glue, -1) {
		name, ret, params := m[1], m[2], strings.TrimSpace(m[3])
		seen[name] = true
		imp := imports[name]
		if imp == nil {
			t.Errorf("glue.c imports isobox.%s, which the host module does not define", name)
			continue
		}
		np := 0
		if params != "" && params != "void" {
			np = strings.Count(params, ",") + 1
		}
		nr := 1
		if ret == "void" {
			nr = 0
		}
		if np != len(imp.params) || nr != len(imp.results) {
			t.Errorf("isobox.%s: glue.c has %d parameters and %d results, the host %d and %d", name, np, nr, len(imp.params), len(imp.results))
		}
	}
	for name := range imports {
		if !seen[name] {
			t.Errorf("the host module defines isobox.%s, which glue.c does not import", name)
		}
	}

	m := cEnum.FindStringSubmatch(glue)
	if m == nil {
		t.Fatal("glue.c: no enum of OP_* starting at 1")
	}
	var cOps []string
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			cOps = append(cOps, strings.TrimSpace(strings.Split(f, "=")[0]))
		}
	}
	var goOps []string
	for o := op(1); int(o) < len(glueOps); o++ {
		goOps = append(goOps, glueOps[o])
	}
	if strings.Join(cOps, " ") != strings.Join(goOps, " ") {
		t.Fatalf("ib_call numbering differs:\n glue.c: %v\n Go:     %v", cOps, goOps)
	}
	if opGrowStack.String() != "OP_GROW_STACK" || int(opGrowStack) != len(cOps) {
		t.Fatalf("the Go constants are not numbered 1..%d as glueOps names them", len(cOps))
	}
	var cases []string
	for _, c := range cCase.FindAllStringSubmatch(glue, -1) {
		cases = append(cases, c[1])
	}
	sort.Strings(cases)
	sorted := append([]string(nil), cOps...)
	sort.Strings(sorted)
	if strings.Join(cases, " ") != strings.Join(sorted, " ") {
		t.Fatalf("ib_call handles %v; the enum has %v", cases, sorted)
	}
}
