// Package netguard builds HTTP clients that refuse to connect to private,
// loopback, link-local and other special-purpose addresses (SSRF protection).
//
// swapd fetches user-supplied URLs (input images and videos) and POSTs to
// user-supplied webhook URLs. Without a guard, a client could point either at
// http://169.254.169.254/ (cloud metadata), http://127.0.0.1:6379/ (our own
// Redis) or any host on the private network. Checking the URL when it is
// submitted is not enough: DNS can answer differently at connect time
// (rebinding) and a public server can redirect to a private one. The real
// check therefore runs at dial time, on the IP address actually being
// connected to, for every connection and every redirect hop.
//
// Operators running swapd next to MinIO or a test receiver on a private
// network open holes with one setting, SWAPD_ALLOW_PRIVATE, a comma-separated
// list of host names and CIDRs parsed by [ParsePolicy].
package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy lists the destinations that are allowed even though they would
// otherwise be blocked. The zero Policy blocks every special-purpose address.
//
// Each entry in Allow is either
//   - a CIDR ("10.0.0.0/8", "127.0.0.1/32", "fd00::/8") or a bare IP address
//     (treated as a single-address prefix): connections to any IP inside are
//     allowed whatever name resolved to it; or
//   - a host name ("minio", "localhost"): connections made for exactly this
//     name (case-insensitive, no wildcard) are allowed whatever IP it resolves
//     to. Allowing a name means trusting the resolver for that name.
type Policy struct {
	Allow []string
}

// ParsePolicy parses the comma-separated SWAPD_ALLOW_PRIVATE setting.
// Empty entries and surrounding spaces are ignored; an empty string gives the
// zero (block everything private) Policy. Entries that look like a CIDR or IP
// but do not parse, and host names with characters that cannot appear in a
// DNS name, are rejected so that a typo does not silently allow nothing
// (or, worse, something else).
func ParsePolicy(spec string) (Policy, error) {
	var p Policy
	for _, raw := range strings.Split(spec, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if _, isPrefix, err := parsePrefix(entry); isPrefix {
			if err != nil {
				return Policy{}, fmt.Errorf("netguard: allow entry %q: %w", entry, err)
			}
		} else if !validHostName(entry) {
			return Policy{}, fmt.Errorf("netguard: allow entry %q is neither a CIDR, an IP address nor a host name", entry)
		}
		p.Allow = append(p.Allow, entry)
	}
	return p, nil
}

// String returns the policy in the form ParsePolicy accepts.
func (p Policy) String() string { return strings.Join(p.Allow, ",") }

// compiled is a Policy split into prefixes and normalised host names.
type compiled struct {
	v4, v6 []netip.Prefix
	hosts  map[string]bool
}

// compile splits the entries. It never fails: entries that do not parse as
// prefixes are treated as host names, which can only ever match a host of the
// same (odd) spelling, so a malformed entry allows nothing extra.
func (p Policy) compile() compiled {
	c := compiled{hosts: map[string]bool{}}
	for _, raw := range p.Allow {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		pfx, isPrefix, err := parsePrefix(entry)
		switch {
		case isPrefix && err == nil && pfx.Addr().Is4():
			c.v4 = append(c.v4, pfx)
		case isPrefix && err == nil:
			c.v6 = append(c.v6, pfx)
		default:
			c.hosts[normHost(entry)] = true
		}
	}
	return c
}

// hostAllowed reports whether host (as written in the URL, without port) is
// an explicitly allowed host name.
func (c compiled) hostAllowed(host string) bool {
	return len(c.hosts) > 0 && c.hosts[normHost(host)]
}

// parsePrefix parses a CIDR or a bare IP address. isPrefix reports whether the
// entry is meant as an address (contains '/' or ':' or parses as an IP), so
// that a malformed CIDR is reported rather than taken for a host name.
func parsePrefix(entry string) (pfx netip.Prefix, isPrefix bool, err error) {
	if strings.Contains(entry, "/") {
		pfx, err = netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, true, err
		}
		return pfx.Masked(), true, nil
	}
	addr, perr := netip.ParseAddr(strings.Trim(entry, "[]"))
	if perr != nil {
		if strings.Contains(entry, ":") {
			return netip.Prefix{}, true, perr
		}
		return netip.Prefix{}, false, nil
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), true, nil
}

func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// validHostName accepts DNS-style names (letters, digits, '-', '_', '.').
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
			if !ok {
				return false
			}
		}
	}
	return true
}
