package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/storage"
)

// inputSpec is one input as a client sends it in JSON: exactly one of the fields.
type inputSpec struct {
	Key    string `json:"key,omitempty"`
	URL    string `json:"url,omitempty"`
	Base64 string `json:"base64,omitempty"`
}

// UploadPrefix is where presigned uploads land; job inputs may reference only keys
// under it, so a client cannot name another job's files as its input.
const UploadPrefix = "uploads/"

// inputKey is where the API stores an input it received in the request itself.
func inputKey(jobID, name string) string { return "jobs/" + jobID + "/" + name }

// errTooLarge is returned by capReader once more than its limit has been read.
var errTooLarge = errors.New("input exceeds the byte limit")

type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// storeStream validates a stream by its first bytes and streams it to key. Nothing is
// held in memory beyond the header buffer and the storage client's part buffer.
func storeStream(ctx context.Context, d *Deps, key string, r io.Reader) (jobs.Input, error) {
	head, whole, err := media.PeekHeader(r)
	if err != nil {
		return jobs.Input{}, readError(err, d.Limits.MaxBytes)
	}
	info, err := media.Inspect(head, d.Limits)
	if err != nil {
		return jobs.Input{}, err
	}
	obj, err := d.Store.Put(ctx, key, &capReader{r: whole, left: d.Limits.MaxBytes}, -1, info.ContentType)
	if err != nil {
		_ = d.Store.Delete(context.WithoutCancel(ctx), key)
		return jobs.Input{}, readError(err, d.Limits.MaxBytes)
	}
	return jobs.Input{Key: key, ContentType: info.ContentType, Size: obj.Size}, nil
}

// readError names what went wrong while reading a client's stream.
func readError(err error, limit int64) error {
	var b64 base64.CorruptInputError
	var body *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge):
		return errcode.New(errcode.InputTooLarge, "the file is larger than the %d byte limit", limit)
	case errors.As(err, &body):
		return errcode.New(errcode.InputTooLarge, "the request body is larger than the %d byte limit", body.Limit)
	case errors.As(err, &b64):
		return errcode.New(errcode.InvalidRequest, "the base64 does not decode: %v", err)
	}
	return fmt.Errorf("store input: %w", err)
}

// resolveInput turns a JSON input into a stored or fetchable input, checking what can
// be checked without the worker: upload keys exist and hold an acceptable image,
// base64 decodes to one, URLs are well formed and not aimed at private addresses.
func resolveInput(ctx context.Context, d *Deps, jobID, name string, in inputSpec) (jobs.Input, error) {
	set := 0
	for _, s := range []string{in.Key, in.URL, in.Base64} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: give exactly one of key, url, base64", name)
	}
	switch {
	case in.Base64 != "":
		b64 := in.Base64
		if i := strings.Index(b64, ";base64,"); strings.HasPrefix(b64, "data:") && i >= 0 {
			b64 = b64[i+len(";base64,"):]
		}
		r := base64.NewDecoder(base64.StdEncoding, strings.NewReader(b64))
		in, err := storeStream(ctx, d, inputKey(jobID, name), r)
		return in, inputError(name, err)
	case in.URL != "":
		if err := netguard.CheckURL(in.URL, d.Policy); err != nil {
			if errors.Is(err, netguard.ErrBlocked) {
				return jobs.Input{}, errcode.New(errcode.URLBlocked, "%s: %s points at a private or reserved address, which swapd does not fetch", name, in.URL)
			}
			return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: %v", name, err)
		}
		return jobs.Input{URL: in.URL}, nil
	default:
		return checkUploaded(ctx, d, name, in.Key)
	}
}

func checkUploaded(ctx context.Context, d *Deps, name, key string) (jobs.Input, error) {
	if !strings.HasPrefix(key, UploadPrefix) || strings.Contains(key, "..") {
		return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: key %q is not an upload key from POST /v1/uploads", name, key)
	}
	rc, obj, err := d.Store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return jobs.Input{}, errcode.New(errcode.InputNotFound, "%s: nothing was uploaded to %q", name, key)
	}
	if err != nil {
		return jobs.Input{}, fmt.Errorf("read upload %s: %w", key, err)
	}
	defer rc.Close()
	if obj.Size > d.Limits.MaxBytes {
		return jobs.Input{}, errcode.New(errcode.InputTooLarge, "%s: %d bytes, the limit is %d", name, obj.Size, d.Limits.MaxBytes)
	}
	head, _, err := media.PeekHeader(rc)
	if err != nil {
		return jobs.Input{}, fmt.Errorf("read upload %s: %w", key, err)
	}
	info, err := media.Inspect(head, d.Limits)
	if err != nil {
		return jobs.Input{}, inputError(name, err)
	}
	return jobs.Input{Key: key, ContentType: info.ContentType, Size: obj.Size}, nil
}

// inputError prefixes a coded error's message with the input it is about.
func inputError(name string, err error) error {
	if e, ok := errcode.As(err); ok {
		return errcode.New(e.Code, "%s: %s", name, e.Message)
	}
	return err
}
