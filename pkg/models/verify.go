package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
)

var (
	// ErrChecksumMismatch is returned (wrapped) when a file's checksum is not
	// the expected one.
	ErrChecksumMismatch = errors.New("models: checksum mismatch")
	// ErrUnverifiable is returned by Verify for a file whose expected CRC32
	// is not available locally (no .hash sidecar next to it).
	ErrUnverifiable = errors.New("models: no local checksum to verify against")
)

// checksum is an expected digest: algo "sha256" or "crc32", lowercase hex.
type checksum struct {
	algo string
	want string
}

func (c checksum) newHash() hash.Hash {
	if c.algo == "sha256" {
		return sha256.New()
	}
	return crc32.NewIEEE() // zlib's CRC32, as FaceFusion's hash_helper uses; Sum is big-endian = %08x
}

func (c checksum) String() string { return c.algo + " " + c.want }

// Path returns where the model lives in dir.
func (e Entry) Path(dir string) string { return filepath.Join(dir, e.File) }

// sidecarPath is where a verified CRC32 is kept next to the model (the same
// layout FaceFusion uses in .assets/models), so later checks work offline.
func (e Entry) sidecarPath(dir string) string {
	return filepath.Join(dir, strings.TrimSuffix(e.File, filepath.Ext(e.File))+".hash")
}

// Verify checks the model file in dir without network access: against SHA256,
// or against the CRC32 in the local .hash sidecar written by Download. It
// returns an error wrapping os.ErrNotExist when the file is missing,
// ErrUnverifiable when there is nothing local to check a CRC32 against, and
// ErrChecksumMismatch when the file is wrong.
func Verify(e Entry, dir string) error {
	if err := e.Validate(); err != nil {
		return err
	}
	path := e.Path(dir)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("models: %s: %w", e.Name, err)
	}
	want, err := localChecksum(e, dir)
	if err != nil {
		return err
	}
	got, err := fileDigest(path, want)
	if err != nil {
		return err
	}
	if got != want.want {
		return fmt.Errorf("%w: %s: %s is %s, want %s", ErrChecksumMismatch, e.Name, path, got, want)
	}
	return nil
}

func localChecksum(e Entry, dir string) (checksum, error) {
	if e.SHA256 != "" {
		return checksum{"sha256", e.SHA256}, nil
	}
	b, err := os.ReadFile(e.sidecarPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return checksum{}, fmt.Errorf("%w: %s has no %s", ErrUnverifiable, e.Name, e.sidecarPath(dir))
	}
	if err != nil {
		return checksum{}, fmt.Errorf("models: %s: read sidecar: %w", e.Name, err)
	}
	crc, err := parseCRC(b)
	if err != nil {
		return checksum{}, fmt.Errorf("models: %s: %s: %w", e.Name, e.sidecarPath(dir), err)
	}
	return checksum{"crc32", crc}, nil
}

// parseCRC validates the content of a FaceFusion .hash file.
func parseCRC(b []byte) (string, error) {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	if len(s) != 8 || strings.Trim(s, "0123456789abcdef") != "" {
		return "", fmt.Errorf("not a CRC32 (want 8 hex digits): %q", truncate(s, 40))
	}
	return s, nil
}

func fileDigest(path string, c checksum) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("models: %w", err)
	}
	defer f.Close()
	h := c.newHash()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("models: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Status describes in a few words what Verify finds for e in dir, for listings:
// "ok", "missing" (no file), "checksum mismatch" (a file, but not the right one),
// "unverified" (a file with no local checksum to check it against: a CRC32 model
// without its .hash sidecar) or "error" (the file could not be read).
func Status(e Entry, dir string) string {
	err := Verify(e, dir)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, os.ErrNotExist):
		return "missing"
	case errors.Is(err, ErrChecksumMismatch):
		return "checksum mismatch"
	case errors.Is(err, ErrUnverifiable):
		return "unverified"
	}
	return "error"
}
