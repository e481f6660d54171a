// Package images keeps serialized sandbox images (engine.Image.Marshal) by key: hibernated
// workers and sessions. Store is the interface the loader and sessions use; Dir keeps them
// as files in a directory (the data directory of `isobox serve` or of the CLI).
package images

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// Dir is a Store of files in one directory, one file per key (the key hex-encoded), written
// atomically (temporary file, then rename).
type Dir struct {
	path string
}

// NewDir returns a Store in directory path, creating it (mode 0700) if needed.
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	return &Dir{path: path}, nil
}

func (d *Dir) file(key string) string {
	return filepath.Join(d.path, hex.EncodeToString([]byte(key))+".img")
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, b []byte) error {
	if key == "" {
		return errors.New("images: empty key")
	}
	f, err := os.CreateTemp(d.path, ".tmp-*")
	if err != nil {
		return fmt.Errorf("images: put %q: %w", key, err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("images: put %q: %w", key, errors.Join(werr, cerr))
	}
	if err := os.Rename(f.Name(), d.file(key)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("images: put %q: %w", key, err)
	}
	return nil
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
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
	if err := os.Remove(d.file(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
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
		k, err := hex.DecodeString(name)
		if err != nil || !strings.HasPrefix(string(k), prefix) {
			continue
		}
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys, nil
}
