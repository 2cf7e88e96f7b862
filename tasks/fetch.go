package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/storage"
)

// Fetcher reads a job input from object storage or, for URL inputs, over HTTP through
// an SSRF-safe client that refuses private addresses at dial time.
type Fetcher struct {
	Store  *storage.Store
	Client *http.Client // from netguard.NewClient
	// MinRate cuts off URL sources slower than this (zero: DefaultMinRate).
	MinRate MinRate
}

// Fetch returns the input's bytes, at most max of them. Errors that retrying cannot fix
// (a 4xx, a host name that does not exist, a blocked address, too many bytes) carry an
// errcode; the rest (timeouts, refused connections, 5xx) are transient.
func (f *Fetcher) Fetch(ctx context.Context, in jobs.Input, max int64) ([]byte, error) {
	r, err := f.open(ctx, in)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	if int64(len(data)) > max {
		return nil, errcode.New(errcode.InputTooLarge, "an input is larger than the %d byte limit", max)
	}
	return data, nil
}

// FetchToFile streams the input into path (a video: too large to hold in memory, and
// ffprobe/ffmpeg read files). At most max bytes are written.
func (f *Fetcher) FetchToFile(ctx context.Context, in jobs.Input, path string, max int64) (int64, error) {
	r, err := f.open(ctx, in)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(r, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("download input: %w", err)
	}
	if n > max {
		return n, errcode.New(errcode.InputTooLarge, "the video is larger than the %d byte limit", max)
	}
	return n, nil
}

func (f *Fetcher) open(ctx context.Context, in jobs.Input) (io.ReadCloser, error) {
	var r io.ReadCloser
	switch {
	case in.Key != "":
		rc, _, err := f.Store.Get(ctx, in.Key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errcode.New(errcode.InputNotFound, "input object %q no longer exists", in.Key)
		}
		if err != nil {
			return nil, fmt.Errorf("get input %s: %w", in.Key, err)
		}
		r = rc
	case in.URL != "":
		rc, err := f.get(ctx, in.URL)
		if err != nil {
			return nil, err
		}
		min := f.MinRate
		if min == (MinRate{}) {
			min = DefaultMinRate
		}
		r = guardRate(rc, min, in.URL)
	default:
		return nil, errcode.New(errcode.InvalidRequest, "an input has neither key nor url")
	}
	return r, nil
}

func (f *Fetcher) get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errcode.New(errcode.InvalidRequest, "input url %q is not valid", url)
	}
	req.Header.Set("User-Agent", "swapd-fetch/1")
	c := *f.Client // a redirect loop gets its own error, to be told from network trouble
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > netguard.MaxRedirects {
			return errRedirectLoop
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	resp, err := c.Do(req)
	if errors.Is(err, netguard.ErrBlocked) {
		return nil, errcode.New(errcode.URLBlocked, "input url %s resolves to a private or reserved address", url)
	}
	if host, ok := hostNotFound(err); ok {
		return nil, errcode.New(errcode.FetchFailed, "input url %s: host %s does not exist (DNS: no such host)", url, host)
	}
	if why := unfetchable(err); why != "" {
		return nil, errcode.New(errcode.FetchFailed, "input url %s: %s", url, why)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err) // network trouble: transient
	}
	if transientStatus(resp.StatusCode) {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: status %d", url, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, errcode.New(errcode.FetchFailed, "input url %s answered %d", url, resp.StatusCode)
	}
	return resp.Body, nil
}

// errRedirectLoop stops a fetch after netguard.MaxRedirects redirects.
var errRedirectLoop = fmt.Errorf("more than %d redirects", netguard.MaxRedirects)

// unfetchable says why err is a failure no retry can fix besides the DNS and the
// guard's (a redirect loop, a redirect to a scheme swapd does not fetch, an address
// that cannot be dialled such as port 99999), or "" when it may be transient.
func unfetchable(err error) string {
	var ae *net.AddrError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errRedirectLoop):
		return errRedirectLoop.Error()
	case errors.Is(err, netguard.ErrInvalidURL):
		return "redirected to a URL swapd does not fetch (only http and https are)"
	case errors.As(err, &ae):
		return fmt.Sprintf("the address %s is not valid: %s", ae.Addr, ae.Err)
	}
	return ""
}

// transientStatus reports whether a source's answer may change on a retry: a 5xx,
// 429 Too Many Requests, 408 Request Timeout. Every other non-200 answer (404, 403,
// 410, any 4xx; a 3xx left unfollowed) fails the job at once with FETCH_FAILED.
func transientStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// hostNotFound reports whether err is an authoritative "no such host" (NXDOMAIN) for
// the URL's host, or a redirect's: the name does not exist, and retrying will not
// create it. A DNS timeout or a server failure (SERVFAIL, no resolver reachable) is
// not this: those stay transient.
func hostNotFound(err error) (string, bool) {
	var de *net.DNSError
	if err == nil || !errors.As(err, &de) || !de.IsNotFound || de.IsTimeout || de.IsTemporary {
		return "", false
	}
	return de.Name, true
}
