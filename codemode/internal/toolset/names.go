package toolset

import (
	"fmt"
	"strings"
	"unicode"
)

// reserved are the words a JavaScript identifier may not be (reserved words, strict-mode
// reserved words, and literals), plus TypeScript's type keywords, which would read
// badly as method names in the declaration.
var reserved = map[string]bool{
	"break": true, "case": true, "catch": true, "class": true, "const": true, "continue": true,
	"debugger": true, "default": true, "delete": true, "do": true, "else": true, "enum": true,
	"export": true, "extends": true, "false": true, "finally": true, "for": true, "function": true,
	"if": true, "import": true, "in": true, "instanceof": true, "new": true, "null": true,
	"return": true, "super": true, "switch": true, "this": true, "throw": true, "true": true,
	"try": true, "typeof": true, "var": true, "void": true, "while": true, "with": true,
	"yield": true, "let": true, "static": true, "implements": true, "interface": true,
	"package": true, "private": true, "protected": true, "public": true, "await": true,
	"async": true, "arguments": true, "eval": true, "undefined": true, "NaN": true, "Infinity": true,
}

// globals are names a provider namespace may not take: it would shadow a global the
// sandbox's code relies on.
var globals = map[string]bool{
	"globalThis": true, "console": true, "fetch": true, "Request": true, "Response": true,
	"Headers": true, "URL": true, "URLSearchParams": true, "JSON": true, "Math": true,
	"Object": true, "Array": true, "String": true, "Number": true, "Boolean": true, "Symbol": true,
	"Promise": true, "Error": true, "TypeError": true, "RangeError": true, "Date": true,
	"RegExp": true, "Map": true, "Set": true, "WeakMap": true, "WeakSet": true, "Proxy": true,
	"Reflect": true, "BigInt": true, "crypto": true, "atob": true, "btoa": true,
	"setTimeout": true, "clearTimeout": true, "setInterval": true, "clearInterval": true,
	"queueMicrotask": true, "structuredClone": true, "TextEncoder": true, "TextDecoder": true,
	"performance": true, "Blob": true, "FormData": true, "AbortController": true,
	"AbortSignal": true, "Event": true, "EventTarget": true, "DOMException": true,
	"require": true, "module": true, "exports": true, "process": true, "self": true,
	"__isobox_internal": true,
}

// SanitizeName turns a tool or namespace name into a JavaScript identifier the way
// @cloudflare/codemode's sanitizeToolName does: every character that cannot be in an
// identifier becomes "_" ("my-tool" -> "my_tool", "files/read" -> "files_read"), a leading
// digit gets a "_" in front, and a reserved word gets one behind ("delete" -> "delete_").
func SanitizeName(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '_' || r == '$' || unicode.IsLetter(r):
			b.WriteRune(r)
		case unicode.IsDigit(r) && r < 0x80:
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" {
		return "_"
	}
	if reserved[s] {
		s += "_"
	}
	return s
}

// isIdentifier reports whether s can be written as a property name without quotes.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || unicode.IsLetter(r):
		case i > 0 && unicode.IsDigit(r) && r < 0x80:
		default:
			return false
		}
	}
	return true
}

// pascal turns a name into PascalCase for type names: "search_web" -> "SearchWeb",
// "get-pet-by-id" -> "GetPetById", "listPets" -> "ListPets".
func pascal(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if !(unicode.IsLetter(r) || (unicode.IsDigit(r) && r < 0x80)) {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
		} else {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "T" + s
	}
	return s
}

// CheckNamespace rejects a namespace that is not an identifier or would shadow a global.
func CheckNamespace(ns string) error {
	switch {
	case !isIdentifier(ns) || reserved[ns]:
		return fmt.Errorf("codemode: namespace %q is not a JavaScript identifier (try %q)", ns, SanitizeName(ns))
	case globals[ns]:
		return fmt.Errorf("codemode: namespace %q would hide the sandbox's global of that name", ns)
	}
	return nil
}
