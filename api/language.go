package api

import "github.com/isobox/isobox/isoerr"

// The languages a snippet or a session can be written in (the "language" field of
// POST /v1/run, POST /v1/sessions and MCP run_code).
const (
	// LanguageJavaScript is the default: JavaScript or TypeScript.
	LanguageJavaScript = "javascript"
	// LanguagePython is CPython 3.13.
	LanguagePython = "python"
)

// CheckLanguage returns the language lang names: "" and "javascript" are LanguageJavaScript,
// "python" is LanguagePython.
//
// # Errors
//
// invalid_request, listing the languages, for any other value.
func CheckLanguage(lang string) (string, error) {
	switch lang {
	case "", LanguageJavaScript:
		return LanguageJavaScript, nil
	case LanguagePython:
		return LanguagePython, nil
	}
	return "", isoerr.New(isoerr.InvalidRequest, "unknown language %q: use %q (the default) or %q", lang, LanguageJavaScript, LanguagePython)
}
