package engine

import (
	"reflect"

	"github.com/tetratelabs/wazero/api"
)

// nativeStackLen is the size in bytes of the native stack wazero keeps for fn, an exported
// function of a sandbox's instance, or -1 where it cannot be read.
//
// wazero (v1.12's wazevo engine) gives each exported function a stack of its own, 10 KiB
// at first, doubled and copied whenever a call needs more, and keeps it for later calls.
// It offers no API that says how large the stack is. The pools read it from the function's
// call engine (its unexported field stack, a byte slice), only to learn how deep to grow
// their entries' stacks while they wait (blankPool.grow): an engine whose internals differ
// reads -1 and the pools keep their fixed depth. TestNativeStackLen holds the reading to
// the wazero this module pins.
func nativeStackLen(fn api.Function) int {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return -1
	}
	f := v.Elem().FieldByName("stack")
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Uint8 {
		return -1
	}
	return f.Len()
}
