//go:build !linux

package engine

import "os"

// loadBaseImage reads the base image kept at path; ok is false when the file is missing or
// damaged. (Linux maps it instead.)
func loadBaseImage(path string) (img *image, dead span, ok bool) {
	file, err := os.ReadFile(path)
	if err != nil {
		return nil, dead, false
	}
	n, sum, dead, ok := checkBaseImage(file)
	if !ok {
		return nil, dead, false
	}
	return &image{data: file[:n:n], sum: sum, cow: newCOWFile(file[:n])}, dead, true
}
