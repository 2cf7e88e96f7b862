package netguard

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// CheckURL is a fast pre-check for a user-supplied URL, meant for request
// validation so that obviously bad URLs are refused with a clear message
// before a job is queued. It checks that the scheme is http or https, that
// there is a host, and that a literal IP host (or "localhost") is not blocked
// by the policy. Host names are not resolved here: what a name resolves to
// can change before the connection is made, so the dial-time check in
// NewClient remains the real guard.
func CheckURL(raw string, p Policy) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if err := checkScheme(u.Scheme); err != nil {
		return err
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidURL, u.Redacted())
	}
	g := newGuard(p)
	if g.c.hostAllowed(host) {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := g.g.SafeAddr(addr); err != nil {
			return &BlockedError{Addr: host, Reason: err}
		}
		return nil
	}
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		// RFC 6761: localhost names always resolve to loopback.
		return &BlockedError{Addr: host, Reason: fmt.Errorf("%q is a loopback name", host)}
	}
	if numericHost(lower) {
		// Forms like "2130706433", "0x7f.1" or "127.1" are IPv4 addresses to
		// some resolvers (inet_aton) and names to others; refuse the ambiguity.
		return &BlockedError{Addr: host, Reason: fmt.Errorf("%q is a non-canonical numeric address", host)}
	}
	return nil
}

func checkScheme(scheme string) error {
	switch strings.ToLower(scheme) {
	case "http", "https":
		return nil
	case "":
		return fmt.Errorf("%w: missing scheme (want http or https)", ErrInvalidURL)
	default:
		return fmt.Errorf("%w: scheme %q not allowed (want http or https)", ErrInvalidURL, scheme)
	}
}

// numericHost reports whether every dot-separated label is a decimal, octal
// or 0x-hex number — i.e. the host is some inet_aton spelling of an IPv4
// address that netip.ParseAddr did not accept.
func numericHost(h string) bool {
	if h == "" {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return false
		}
		digits := label
		hex := false
		if strings.HasPrefix(label, "0x") {
			digits, hex = label[2:], true
		}
		for _, r := range digits {
			isDec := r >= '0' && r <= '9'
			isHex := isDec || (r >= 'a' && r <= 'f')
			if !(isDec || (hex && isHex)) {
				return false
			}
		}
	}
	return true
}
