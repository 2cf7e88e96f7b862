//go:build !unix

package inference

import "os"

// mapFile reads the whole file on platforms without mmap.
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
