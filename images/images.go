// Package images keeps serialized sandbox images (engine.Image.Marshal) by key: hibernated
// workers and sessions. Store is the interface the loader and sessions use; Dir keeps them
// as files in a directory (the data directory of `isobox serve` or of the CLI).
package images

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNotFound is returned by Get for a key that holds no image.
var ErrNotFound = errors.New("image not found")

// Store keeps images by key. Implementations are safe for concurrent use.
type Store interface {
	// Put stores b under key, replacing any image there.
	Put(ctx context.Context, key string, b []byte) error
	// Get returns the image under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes the image under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Dir is a Store of files in one directory, one file per key (the key hex-encoded, or for a
// key over MaxHexKey bytes base64url-encoded behind "b64-", so that a file name stays
// within the 255 bytes file systems allow; keys of up to MaxKey bytes fit). Put and
// Delete are atomic and durable: when they return, the change survives a crash of the
// process or of the machine, and a reader sees either the old image or the new one, never
// part of one.
type Dir struct {
	path string
}

// staleTemp is how old a temporary file must be before NewDir removes it: one left by a
// process killed in the middle of a Put, not one another process is writing right now.
const staleTemp = 10 * time.Minute

// NewDir returns a Store in directory path, creating it (mode 0700) if needed, and removes
// temporary files that a killed process left behind.
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	if ents, err := os.ReadDir(path); err == nil {
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), tempPrefix) {
				continue
			}
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
				os.Remove(filepath.Join(path, e.Name()))
			}
		}
	}
	return &Dir{path: path}, nil
}

const tempPrefix = ".tmp-"

// Key lengths a Dir can hold: up to MaxHexKey bytes a key is its file's name in hex (as it
// always was), up to MaxKey in base64url.
const (
	MaxHexKey = 125 // 250 hex digits + ".img"
	MaxKey    = 183 // "b64-" + 244 base64url characters + ".img"
)

// b64Prefix marks a file name that holds its key in base64url.
const b64Prefix = "b64-"

func (d *Dir) file(key string) string {
	if len(key) <= MaxHexKey {
		return filepath.Join(d.path, hex.EncodeToString([]byte(key))+".img")
	}
	return filepath.Join(d.path, b64Prefix+base64.RawURLEncoding.EncodeToString([]byte(key))+".img")
}

// checkKey refuses a key that no file name can hold.
func checkKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("images: %s: empty key", op)
	}
	if len(key) > MaxKey {
		return fmt.Errorf("images: %s: a key of %d bytes is longer than the %d a file name can hold", op, len(key), MaxKey)
	}
	return nil
}

// Put implements Store. It writes a temporary file, flushes it to disk (fsync), renames it
// over the key's file and flushes the directory, so that the rename itself is on disk.
func (d *Dir) Put(ctx context.Context, key string, b []byte) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.path, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("images: put %q: %w", key, err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("images: put %q: %w", key, errors.Join(werr, cerr))
	}
	if err := os.Rename(f.Name(), d.file(key)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("images: put %q: %w", key, err)
	}
	if err := d.syncDir(); err != nil {
		return fmt.Errorf("images: put %q: %w", key, err)
	}
	return nil
}

// syncDir flushes the directory's entries (a rename or a removal) to disk.
func (d *Dir) syncDir() error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.file(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("images: get %q: %w", key, err)
	}
	return b, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	err := os.Remove(d.file(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = d.syncDir()
	}
	if err != nil {
		return fmt.Errorf("images: delete %q: %w", key, err)
	}
	return nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("images: list: %w", err)
	}
	var keys []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".img")
		if !ok {
			continue
		}
		var k []byte
		if b64, ok := strings.CutPrefix(name, b64Prefix); ok {
			k, err = base64.RawURLEncoding.DecodeString(b64)
		} else {
			k, err = hex.DecodeString(name)
		}
		if err != nil || !strings.HasPrefix(string(k), prefix) {
			continue
		}
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys, nil
}
