package server

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkFieldNames reports an object key in v (a decoded JSON value) that names no field of
// t exactly. encoding/json matches field names case-insensitively, even with
// DisallowUnknownFields, so {"mainmodule": ...} would silently set mainModule; the API's
// fields are case-sensitive. Values of types with their own UnmarshalJSON, maps' keys and
// untyped values (any) are not checked.
func checkFieldNames(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // a type error; the decoder reports it
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for k, val := range obj {
			ft, ok := fields[k]
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, k) {
						return isoerr.New(isoerr.InvalidRequest, "unknown field %q%s (did you mean %q? field names are case-sensitive)", k, at(path), name)
					}
				}
				return isoerr.New(isoerr.InvalidRequest, "unknown field %q%s", k, at(path))
			}
			if err := checkFieldNames(val, ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for k, val := range obj {
				if err := checkFieldNames(val, t.Elem(), join(path, k)); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if arr, ok := v.([]any); ok && t.Elem().Kind() != reflect.Uint8 {
			for _, val := range arr {
				if err := checkFieldNames(val, t.Elem(), path+"[]"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// collectFields maps the JSON names of t's fields (embedded structs' promoted) to types.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := out[name]; !dup {
			out[name] = f.Type
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}
