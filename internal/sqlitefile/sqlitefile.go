// Package sqlitefile names a SQLite database file to the driver (modernc.org/sqlite): the
// one place isobox turns a path and its connection parameters into a data source name.
package sqlitefile

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// DSN is the data source name that opens the database at path, exactly that file, with
// params (the driver's `_pragma`, `_txlock`, ...). A relative path is taken from the
// working directory.
//
// The driver hands SQLite a URI, in which `?` starts the query, `#` the fragment and `%`
// an escape: a path pasted into "file:" as it is opened another file (`data#1/isobox.db`
// opened `data`, the store's, the workspaces' and the meter's databases one file) and
// lost its parameters. DSN escapes the path, so every byte of it names the file.
//
// # Errors
//
// When path is empty, or relative and the working directory cannot be read.
func DSN(path string, params url.Values) (string, error) {
	if path == "" {
		return "", fmt.Errorf("sqlitefile: no path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlitefile: %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x on Windows: file:///C:/x
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String(), nil // file:///… : an empty authority, then the escaped path
}
