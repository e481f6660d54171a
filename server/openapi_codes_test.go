package server

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"testing"
)

// The ErrorDetail code enum of openapi.json lists every code package isoerr defines (read
// from its source: a code added there without the document fails here), and nothing else.
func TestOpenAPIErrorCodes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../isoerr/isoerr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var defined []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			v := sp.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, val := range v.Values {
				lit, ok := val.(*ast.BasicLit)
				if !ok {
					t.Fatalf("a Code constant that is not a string literal: %#v", val)
				}
				s, _ := strconv.Unquote(lit.Value)
				defined = append(defined, s)
			}
		}
	}
	if len(defined) < 20 {
		t.Fatalf("read only %d codes from isoerr.go: the parse is wrong", len(defined))
	}
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorDetail struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"ErrorDetail"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas.ErrorDetail.Properties.Code.Enum
	for _, c := range defined {
		if !slices.Contains(enum, c) {
			t.Errorf("isoerr defines %q; the ErrorDetail code enum of openapi.json does not list it", c)
		}
	}
	for _, c := range enum {
		if !slices.Contains(defined, c) {
			t.Errorf("openapi.json's ErrorDetail enum lists %q, which isoerr does not define", c)
		}
	}
}
