package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/storage"
)

// Input is one input as a client sends it in JSON: exactly one of the fields.
type Input struct {
	Key    string `json:"key,omitempty"`
	URL    string `json:"url,omitempty"`
	Base64 string `json:"base64,omitempty"`
}

// UploadPrefix is where presigned uploads land, under the uploading key's id
// (uploads/{owner}/{uuid}): job inputs may reference only keys under their own key's
// prefix, so a client can name neither another job's files nor another tenant's
// uploads as its input.
const UploadPrefix = "uploads/"

// uploadPrefix is where owner's uploads land.
func uploadPrefix(owner string) string { return UploadPrefix + owner + "/" }

// ownsUpload reports whether key is one of owner's uploads: its prefix and exactly the
// UUID POST /v1/uploads appended, so no other key (too long, with slashes or NULs,
// which storage would refuse with an error of its own) is ever looked up.
func ownsUpload(owner, key string) bool {
	rest, ok := strings.CutPrefix(key, uploadPrefix(owner))
	if owner == "" || !ok {
		return false
	}
	id, err := uuid.Parse(rest)
	return err == nil && id.String() == rest
}

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
// held in memory beyond the header buffer and the storage client's part buffer. A
// video is accepted only where allowVideo says so (a target); its content is probed
// by the worker, which has ffprobe, so the API stays thin.
func storeStream(ctx context.Context, d *Deps, key string, r io.Reader, allowVideo bool) (jobs.Input, error) {
	if err := storageUp(d); err != nil {
		return jobs.Input{}, err
	}
	client := &clientReader{r: r}
	head, whole, err := media.PeekHeader(client)
	if err != nil {
		return jobs.Input{}, readError(err, d.Limits.MaxBytes)
	}
	contentType, limit, err := inspect(d, head, allowVideo)
	if err != nil {
		return jobs.Input{}, err
	}
	sum := sha256.New() // recorded, so a swap can tell its target is the one an analysis saw
	obj, err := d.Store.Put(ctx, key, &capReader{r: io.TeeReader(whole, sum), left: limit}, -1, contentType)
	if err != nil {
		_ = d.Store.Delete(context.WithoutCancel(ctx), key)
		if client.err != nil {
			// The client's stream failed (it is cut short, or too large): its fault,
			// whatever storage made of it.
			return jobs.Input{}, readError(client.err, limit)
		}
		return jobs.Input{}, readError(err, limit)
	}
	return jobs.Input{Key: key, ContentType: contentType, Size: obj.Size, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

// clientReader remembers the first error reading a client's bytes, so a stream that
// fails on the client's side is told apart from a failure of storage.
type clientReader struct {
	r   io.Reader
	err error
}

func (c *clientReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// inspect identifies an input from its head and returns its content type and the byte
// limit that applies to it.
func inspect(d *Deps, head []byte, allowVideo bool) (contentType string, limit int64, err error) {
	if container, ok := media.SniffVideo(head); ok {
		if !allowVideo {
			return "", 0, errcode.New(errcode.UnsupportedMedia, "a %s video cannot be used here; sources and references must be images", container)
		}
		return videoContentType(container), d.VideoLimits.MaxBytes, nil
	}
	info, err := media.Inspect(head, d.Limits)
	if err != nil {
		return "", 0, err
	}
	return info.ContentType, d.Limits.MaxBytes, nil
}

// videoContentType names a sniffed container.
func videoContentType(container string) string {
	switch container {
	case media.ContainerMOV:
		return "video/quicktime"
	case media.ContainerWebM:
		return "video/webm"
	case media.ContainerMKV:
		return "video/x-matroska"
	}
	return "video/mp4"
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
	case errors.Is(err, io.ErrUnexpectedEOF):
		// base64 whose length is not a multiple of 4 (cut short), or a multipart
		// body that ends without its closing boundary.
		return errcode.New(errcode.InvalidRequest, "the input ends early: truncated base64, or a multipart body without its closing boundary")
	}
	return fmt.Errorf("store input: %w", err)
}

// resolveInput turns a JSON input into a stored or fetchable input, checking what can
// be checked without the worker: upload keys exist and hold an acceptable image,
// base64 decodes to one, URLs are well formed and not aimed at private addresses.
func resolveInput(ctx context.Context, d *Deps, jobID, name string, in Input) (jobs.Input, error) {
	return resolveInputStreamed(ctx, d, jobID, name, in, nil)
}

// resolveInputStreamed is resolveInput for a body read by scanSubmission (streamed not
// nil): a base64 input was stored already and in.Base64 names its result.
func resolveInputStreamed(ctx context.Context, d *Deps, jobID, name string, in Input, streamed *streamedInputs) (jobs.Input, error) {
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
	case in.Base64 != "" && streamed != nil:
		res, ok := streamed.take(in.Base64)
		if !ok {
			return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: the base64 input was not read", name)
		}
		return res.in, inputError(name, res.err)
	case in.Base64 != "":
		b64 := in.Base64
		if i := strings.Index(b64, ";base64,"); strings.HasPrefix(b64, "data:") && i >= 0 {
			b64 = b64[i+len(";base64,"):]
		}
		r := base64.NewDecoder(base64.StdEncoding, strings.NewReader(b64))
		in, err := storeStream(ctx, d, jobs.InputKey(jobID, name), r, name == "target")
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
		return checkUploaded(ctx, d, name, in.Key, name == "target")
	}
}

func checkUploaded(ctx context.Context, d *Deps, name, key string, allowVideo bool) (jobs.Input, error) {
	if !strings.HasPrefix(key, UploadPrefix) || strings.Contains(key, "..") {
		return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: key %q is not an upload key from POST /v1/uploads", name, key)
	}
	if err := storageUp(d); err != nil {
		return jobs.Input{}, err
	}
	// Another key's upload answers exactly as a missing one, so a tenant cannot even
	// learn that a guessed key exists.
	notFound := errcode.New(errcode.InputNotFound, "%s: nothing was uploaded to %q with this API key", name, key)
	if !ownsUpload(ownerOf(ctx), key) {
		return jobs.Input{}, notFound
	}
	rc, obj, err := d.Store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return jobs.Input{}, notFound
	}
	if err != nil {
		return jobs.Input{}, fmt.Errorf("read upload %s: %w", key, err)
	}
	defer rc.Close()
	head, _, err := media.PeekHeader(rc)
	if err != nil {
		return jobs.Input{}, fmt.Errorf("read upload %s: %w", key, err)
	}
	contentType, limit, err := inspect(d, head, allowVideo)
	if err != nil {
		return jobs.Input{}, inputError(name, err)
	}
	if obj.Size > limit {
		return jobs.Input{}, errcode.New(errcode.InputTooLarge, "%s: %d bytes, the limit is %d", name, obj.Size, limit)
	}
	return jobs.Input{Key: key, ContentType: contentType, Size: obj.Size}, nil
}

// inputError prefixes a coded error's message with the input it is about.
func inputError(name string, err error) error {
	if e, ok := errcode.As(err); ok {
		return errcode.New(e.Code, "%s: %s", name, e.Message)
	}
	return err
}

// storageUp refuses work at once while object storage is known to be down.
func storageUp(d *Deps) error {
	if d.Store.Offline() {
		return errcode.New(errcode.Unavailable, "object storage is unavailable right now; nothing was accepted, try again shortly")
	}
	return nil
}
