package codemode

import (
	"errors"
	"strings"
	"testing"

	"github.com/isobox/isobox/codemode/internal/toolset"
)

func TestConnectors(t *testing.T) {
	cs := NewConnectors()
	var closed []string
	closer := func(n string) func() error {
		return func() error { closed = append(closed, n); return errors.New(n + " failed") }
	}
	tools := []Tool{{Name: "t", Func: nop}}
	if err := cs.Add(Provider{Name: "b", Tools: tools}, closer("b")); err != nil {
		t.Fatal(err)
	}
	live := tools
	if err := cs.AddLive("a", func() Provider { return Provider{Tools: live} }, closer("a")); err != nil {
		t.Fatal(err)
	}
	if err := cs.Add(Provider{Name: "a"}, nil); err == nil {
		t.Error("a second connector named a")
	}
	if err := cs.Add(Provider{Name: "fetch"}, nil); err == nil {
		t.Error("a connector shadowing fetch")
	}
	if got := strings.Join(cs.Names(), ","); got != "b,a" {
		t.Errorf("names %s", got)
	}
	live = append(live, Tool{Name: "u", Func: nop})
	ps, err := cs.Select([]string{"a", "a"})
	if err != nil || len(ps) != 1 || ps[0].Name != "a" || len(ps[0].Tools) != 2 {
		t.Fatalf("select: %+v %v", ps, err)
	}
	if _, err := cs.Select([]string{"c"}); err == nil || !strings.Contains(err.Error(), "(configured: a, b)") {
		t.Errorf("select c: %v", err)
	}
	err = cs.Close()
	if strings.Join(closed, ",") != "a,b" || err == nil || !strings.Contains(err.Error(), "a failed") {
		t.Errorf("closed %v: %v", closed, err)
	}
	var none *Connectors
	if ps, err := none.Select(nil); err != nil || ps != nil {
		t.Errorf("nil set: %v %v", ps, err)
	}
}

// The namespace Connectors give an unnamed provider is the one its tools are declared and
// called under (toolset.Resolve's).
func TestDefaultNamespace(t *testing.T) {
	if DefaultNamespace != toolset.DefaultNamespace {
		t.Fatalf("codemode.DefaultNamespace %q, toolset.DefaultNamespace %q", DefaultNamespace, toolset.DefaultNamespace)
	}
}
