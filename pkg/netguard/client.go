package netguard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// MaxRedirects is how many redirects a client from NewClient follows. Every
// hop is dialled through the same guard.
const MaxRedirects = 5

var (
	// ErrBlocked is matched (errors.Is) by every refusal to reach an address,
	// including when it comes back wrapped in *url.Error and *net.OpError from
	// http.Client.Do.
	ErrBlocked = errors.New("netguard: destination blocked")
	// ErrInvalidURL is returned by CheckURL and by redirects for URLs that are
	// malformed, have no host, or use a scheme other than http/https.
	ErrInvalidURL = errors.New("netguard: invalid URL")
)

// BlockedError says which address was refused and why. It matches ErrBlocked
// with errors.Is and unwraps to the underlying reason (ssrf.ErrProhibitedIP…).
type BlockedError struct {
	Addr   string // "ip:port" at dial time, or the host from CheckURL
	Reason error
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("netguard: destination %s blocked: %v (allow it with SWAPD_ALLOW_PRIVATE if intended)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Unwrap returns the reason.
func (e *BlockedError) Unwrap() error { return e.Reason }

// guard is the compiled policy plus the ssrf Guardian that implements the
// IP deny-list. code.dny.dev/ssrf keeps its ranges in sync with the IANA
// special-purpose registries and denies, for IPv4: 0/8, 10/8, 100.64/10,
// 127/8, 169.254/16, 172.16/12, 192.168/16, 224/4 multicast, 240/4 and the
// documentation/benchmark ranges; for IPv6 everything outside global unicast
// 2000::/3 (so ::1, ::, fc00::/7 ULA, fe80::/10, ff00::/8 multicast and
// ::ffff:0:0/96 IPv4-mapped) plus special ranges inside it. Allowed prefixes
// are consulted first.
type guard struct {
	c compiled
	g *ssrf.Guardian
}

func newGuard(p Policy) *guard {
	c := p.compile()
	return &guard{
		c: c,
		g: ssrf.New(
			// Any port: webhooks and inputs legitimately live on :8080, :9000…
			// The point of the guard is the destination address.
			ssrf.WithAnyPort(),
			ssrf.WithAllowedV4Prefixes(c.v4...),
			ssrf.WithAllowedV6Prefixes(c.v6...),
		),
	}
}

// control runs in net.Dialer.Control, i.e. after DNS resolution, on the exact
// address about to be connected to.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	if err := g.g.Safe(network, address, nil); err != nil {
		return &BlockedError{Addr: address, Reason: err}
	}
	return nil
}

// dialer picks, per connection, between an unguarded dialer (for host names
// the operator allowed by name) and the guarded one.
type dialer struct {
	g       *guard
	open    *net.Dialer
	guarded *net.Dialer
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %s: %w", addr, err)
	}
	if d.g.c.hostAllowed(host) {
		return d.open.DialContext(ctx, network, addr)
	}
	return d.guarded.DialContext(ctx, network, addr)
}

// NewTransport returns an http.Transport whose every connection goes through
// the policy's dial-time check. It ignores HTTP(S)_PROXY from the environment:
// a proxy would make the dialled address the proxy's, defeating the check.
func NewTransport(p Policy) *http.Transport {
	return newTransport(p, Timeouts{})
}

// Timeouts bound the phases of a request; zero fields keep the defaults (10 s to
// connect, 30 s for the response headers).
type Timeouts struct {
	Connect        time.Duration // TCP connect and, separately, the TLS handshake
	ResponseHeader time.Duration // from the request written to the response headers
}

func newTransport(p Policy, t Timeouts) *http.Transport {
	g := newGuard(p)
	dialTimeout := cmp.Or(t.Connect, 10*time.Second)
	d := &dialer{
		g:       g,
		open:    &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		guarded: &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: g.control},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: cmp.Or(t.ResponseHeader, 30*time.Second),
		ExpectContinueTimeout: time.Second,
	}
}

// NewClient returns an http.Client for fetching or posting to user-supplied
// URLs. timeout bounds a whole request including reading the body; 0 means
// no overall limit (use a context deadline, e.g. for large downloads).
// Redirects are followed up to MaxRedirects times, only to http/https URLs,
// and every hop is dialled through the guard.
func NewClient(p Policy, timeout time.Duration) *http.Client {
	return NewClientTimeouts(p, timeout, Timeouts{})
}

// NewClientTimeouts is NewClient with its own connect and response-header timeouts:
// webhooks use short ones, so a receiver that never answers costs a delivery slot
// seconds, not minutes.
func NewClientTimeouts(p Policy, timeout time.Duration, t Timeouts) *http.Client {
	return &http.Client{
		Transport: newTransport(p, t),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("netguard: stopped after %d redirects", MaxRedirects)
			}
			if err := checkScheme(req.URL.Scheme); err != nil {
				return fmt.Errorf("netguard: redirect to %s: %w", req.URL.Redacted(), err)
			}
			return nil
		},
	}
}
