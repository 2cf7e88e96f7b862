package models

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/swapd/swapd/pkg/netguard"
)

const (
	// maxUnknownSize caps a download whose size the catalogue does not know,
	// so a misbehaving mirror cannot fill the disk.
	maxUnknownSize = 4 << 30
	// maxSidecarBytes caps a .hash response (8 hex digits plus whitespace).
	maxSidecarBytes = 64
)

// Download makes sure dir/File is present and verified.
//
//   - If the file is already there and verifies (SHA256, or the CRC32 in its
//     local .hash sidecar, or else the sidecar fetched from a source) nothing
//     is downloaded.
//   - Otherwise each Source is tried in turn: the file is streamed to
//     dir/File.part while its checksum is computed, with a progress bar
//     written to progress (nil for none); on a match it is renamed into place
//     atomically (so a crash never leaves a half-written model under the real
//     name) and, for CRC32 entries, the sidecar is saved for offline checks.
//     A file that does not match is deleted and the error names both digests.
//
// client nil means a netguard client with the default policy and no overall
// timeout (models are hundreds of MB; bound the download with ctx). Two
// processes must not download the same entry into the same dir at once.
func Download(ctx context.Context, client *http.Client, e Entry, dir string, progress io.Writer) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if client == nil {
		client = netguard.NewClient(netguard.Policy{}, 0)
	}
	if progress == nil {
		progress = io.Discard
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("models: create %s: %w", dir, err)
	}

	existing := false
	switch err := Verify(e, dir); {
	case err == nil:
		fmt.Fprintf(progress, "%s: already present and verified\n", e.File)
		return nil
	case errors.Is(err, os.ErrNotExist):
	case errors.Is(err, ErrUnverifiable):
		existing = true // check it against a fetched sidecar below
	default:
		fmt.Fprintf(progress, "%s: existing file does not verify (%v); downloading again\n", e.File, err)
		if err := removeModel(e, dir); err != nil {
			return err
		}
	}

	var errs []error
	for _, src := range e.Sources {
		want, err := expected(ctx, client, e, src)
		if err == nil && existing {
			existing = false
			got, derr := fileDigest(e.Path(dir), want)
			if derr == nil && got == want.want {
				fmt.Fprintf(progress, "%s: already present and verified\n", e.File)
				return writeSidecar(e, dir, want)
			}
			fmt.Fprintf(progress, "%s: existing file is %s %s, want %s; downloading again\n", e.File, want.algo, got, want.want)
			if err := removeModel(e, dir); err != nil {
				return err
			}
		}
		if err == nil {
			err = fetch(ctx, client, e, src, want, dir, progress)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("models: download %s failed from every source: %w", e.Name, errors.Join(errs...))
}

// expected returns the checksum to verify a download from src against.
func expected(ctx context.Context, client *http.Client, e Entry, src Source) (checksum, error) {
	if e.SHA256 != "" {
		return checksum{"sha256", e.SHA256}, nil
	}
	resp, err := get(ctx, client, src.HashURL)
	if err != nil {
		return checksum{}, fmt.Errorf("models: %s: checksum sidecar: %w", e.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSidecarBytes+1))
	if err != nil {
		return checksum{}, fmt.Errorf("models: %s: read %s: %w", e.Name, src.HashURL, err)
	}
	crc, err := parseCRC(b)
	if err != nil {
		return checksum{}, fmt.Errorf("models: %s: %s: %w", e.Name, src.HashURL, err)
	}
	return checksum{"crc32", crc}, nil
}

// fetch downloads src into place, verifying want.
func fetch(ctx context.Context, client *http.Client, e Entry, src Source, want checksum, dir string, progress io.Writer) (err error) {
	resp, err := get(ctx, client, src.URL)
	if err != nil {
		return fmt.Errorf("models: %s: %w", e.Name, err)
	}
	defer resp.Body.Close()

	limit := int64(maxUnknownSize)
	if e.Size > 0 {
		limit = 2 * e.Size // sizes are advisory (some come from third parties)
	}
	if resp.ContentLength > limit {
		return fmt.Errorf("models: %s: %s is %d bytes, more than the %d allowed", e.Name, src.URL, resp.ContentLength, limit)
	}

	final := e.Path(dir)
	part := final + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("models: %s: %w", e.Name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()

	total := resp.ContentLength
	if total <= 0 && e.Size > 0 {
		total = e.Size
	}
	if total <= 0 {
		total = -1 // spinner
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription(e.File),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
	)
	h := want.newHash()
	n, err := io.Copy(io.MultiWriter(f, h, lenient{bar}), io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("models: %s: download %s: %w", e.Name, src.URL, err)
	}
	if n > limit {
		return fmt.Errorf("models: %s: %s sent more than the %d bytes allowed", e.Name, src.URL, limit)
	}
	_ = bar.Finish()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("models: %s: sync: %w", e.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("models: %s: close: %w", e.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.want {
		return fmt.Errorf("%w: %s from %s: %s is %s, want %s; the download was deleted", ErrChecksumMismatch, e.Name, src.URL, want.algo, got, want.want)
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("models: %s: %w", e.Name, err)
	}
	syncDir(dir)
	return writeSidecar(e, dir, want)
}

func get(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "swapd-models/1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}

// writeSidecar stores a verified CRC32 next to the model (nothing for SHA-256
// entries, whose checksum is in the catalogue). Written via rename so a crash
// leaves either no sidecar or a complete one.
func writeSidecar(e Entry, dir string, c checksum) error {
	if c.algo != "crc32" {
		return nil
	}
	path := e.sidecarPath(dir)
	tmp := path + ".part"
	if err := os.WriteFile(tmp, []byte(c.want), 0o644); err != nil {
		return fmt.Errorf("models: %s: write sidecar: %w", e.Name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("models: %s: write sidecar: %w", e.Name, err)
	}
	return nil
}

// removeModel deletes a model that failed verification, and its sidecar.
func removeModel(e Entry, dir string) error {
	for _, p := range []string{e.Path(dir), e.sidecarPath(dir)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("models: %s: remove bad file: %w", e.Name, err)
		}
	}
	return nil
}

// syncDir makes a rename durable; best effort (not all platforms allow it).
func syncDir(dir string) {
	if d, err := os.Open(filepath.Clean(dir)); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// lenient keeps the progress bar from aborting a download: progressbar
// returns an error once more bytes arrive than its total, which happens when
// the total was only the catalogue's advisory size.
type lenient struct{ w io.Writer }

func (l lenient) Write(p []byte) (int, error) {
	_, _ = l.w.Write(p)
	return len(p), nil
}
