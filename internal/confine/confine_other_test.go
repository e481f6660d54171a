//go:build !linux

package confine_test

import (
	"testing"

	"github.com/isobox/isobox/internal/confine"
	"github.com/isobox/isobox/isoerr"
)

func TestApplyNotImplemented(t *testing.T) {
	rep, err := confine.Apply(confine.Policy{CacheDir: "/tmp"})
	if isoerr.CodeOf(err) != isoerr.NotImplemented {
		t.Fatalf("Apply = %v, want not_implemented", err)
	}
	if len(rep.Missing()) != 4 {
		t.Fatalf("report %s: want all four layers off", rep)
	}
}
