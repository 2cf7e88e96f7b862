// Package apikeys says who may call swapd: each API key has a name, a role (an admin
// operator or a tenant) and limits, read from a keys file (SWAPD_KEYS_FILE, YAML or
// JSON) or from the plain key lists of SWAPD_API_KEYS and SWAPD_ADMIN_KEYS.
//
// A key's secret is never kept or shown in the clear past loading: the keyring holds
// SHA-256 digests, compares a presented key against every digest in constant time (so
// response timing tells nothing about how close a guess was), and names a key in
// Redis and logs by its ID, a hash. A keys file may itself hold only digests
// (secret_sha256), so it can be committed to an operator's config repository.
package apikeys

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Role is what a key may open.
type Role string

const (
	// Tenant keys submit and manage their own jobs and uploads, nothing else.
	Tenant Role = "tenant"
	// Admin (operator) keys also open the dashboard and /metrics.
	Admin Role = "admin"
)

// Limits bound what one key may do. Zero means no limit.
type Limits struct {
	RequestsPerMinute int   `yaml:"requests_per_minute" json:"requests_per_minute,omitempty"`
	MaxInFlight       int   `yaml:"max_in_flight" json:"max_in_flight,omitempty"` // jobs queued or running at once
	DailyJobs         int64 `yaml:"daily_jobs" json:"daily_jobs,omitempty"`
	DailyFrames       int64 `yaml:"daily_frames" json:"daily_frames,omitempty"` // video frames processed
	DailyBytes        int64 `yaml:"daily_bytes" json:"daily_bytes,omitempty"`   // input bytes stored
	// Retention is how long the key's ended jobs, their records, inputs and outputs,
	// are kept ("72h"; 0: the operator's SWAPD_JOB_TTL), within the operator's
	// SWAPD_RETENTION_MIN and SWAPD_RETENTION_MAX.
	Retention time.Duration `yaml:"retention" json:"retention,omitempty"`
}

// Key is one configured key, without its secret.
type Key struct {
	ID     string // ID of the secret: the owner recorded on the key's jobs
	Name   string
	Role   Role
	Limits Limits
}

// entry is a key as the keyring holds it: the digest of its secret.
type entry struct {
	digest [sha256.Size]byte
	key    Key
}

// Keyring is the set of accepted keys.
type Keyring struct {
	entries []entry
}

// ID is the stable id of a key secret: the owner recorded on its jobs, and its name
// in Redis and logs. (The same derivation as before keys had names, so jobs submitted
// earlier keep their owner.)
func ID(secret string) string {
	sum := sha256.Sum256([]byte("swapd-key:" + secret))
	return hex.EncodeToString(sum[:12])
}

// digest is what the keyring holds and compares.
func digest(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// Lookup returns the key whose secret is presented. Every key is compared, in
// constant time, whatever matches.
func (k *Keyring) Lookup(secret string) (Key, bool) {
	if k == nil || secret == "" {
		return Key{}, false
	}
	d := digest(secret)
	found := -1
	for i := range k.entries {
		if subtle.ConstantTimeCompare(k.entries[i].digest[:], d[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Key{}, false
	}
	key := k.entries[found].key
	key.ID = ID(secret) // from the secret presented: files may hold only digests
	return key, true
}

// FromLists builds a keyring from plain lists of secrets: tenant keys with defaults as
// their limits, admin keys without limits. Keys are named by their position.
func FromLists(tenants, admins []string, defaults Limits) (*Keyring, error) {
	b := &builder{}
	for i, s := range tenants {
		if err := b.add(fileKey{Name: fmt.Sprintf("tenant-%d", i+1), Role: Tenant, Secret: s, Limits: &defaults}); err != nil {
			return nil, err
		}
	}
	for i, s := range admins {
		if err := b.add(fileKey{Name: fmt.Sprintf("admin-%d", i+1), Role: Admin, Secret: s}); err != nil {
			return nil, err
		}
	}
	return &Keyring{entries: b.entries}, nil
}

// fileKey is one key in a keys file.
type fileKey struct {
	Name         string  `yaml:"name"`
	Role         Role    `yaml:"role"`
	Secret       string  `yaml:"secret"`        // the key itself, or:
	SecretSHA256 string  `yaml:"secret_sha256"` // hex SHA-256 of the key (sha256sum of it, no newline)
	Limits       *Limits `yaml:"limits"`        // absent: the file's defaults
}

type keysFile struct {
	Defaults Limits    `yaml:"defaults"`
	Keys     []fileKey `yaml:"keys"`
}

// Load reads a keys file (YAML, or JSON, which YAML reads too):
//
//	defaults: {requests_per_minute: 60, max_in_flight: 10}
//	keys:
//	  - {name: acme, role: tenant, secret: sk_live_…, limits: {daily_jobs: 5000}}
//	  - {name: ops, role: admin, secret_sha256: 9f86d08…}
//
// Unknown fields, duplicate names or secrets, a missing secret and unknown roles are
// errors naming the entry, so a typo cannot leave a key unlimited or unusable.
func Load(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	return Parse(b)
}

// Parse is Load for a file's contents.
func Parse(data []byte) (*Keyring, error) {
	var f keysFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("keys file: no keys")
	}
	b := &builder{}
	for _, k := range f.Keys {
		if k.Limits == nil {
			k.Limits = &f.Defaults
		}
		if err := b.add(k); err != nil {
			return nil, fmt.Errorf("keys file: %w", err)
		}
	}
	return &Keyring{entries: b.entries}, nil
}

type builder struct {
	entries []entry
	names   map[string]bool
}

func (b *builder) add(k fileKey) error {
	if b.names == nil {
		b.names = map[string]bool{}
	}
	if k.Name == "" {
		return errors.New("a key has no name")
	}
	if b.names[k.Name] {
		return fmt.Errorf("key %q: the name is used twice", k.Name)
	}
	b.names[k.Name] = true
	switch k.Role {
	case Tenant, Admin:
	case "":
		k.Role = Tenant
	default:
		return fmt.Errorf("key %q: role %q is not tenant or admin", k.Name, k.Role)
	}
	var e entry
	switch {
	case k.Secret != "" && k.SecretSHA256 != "":
		return fmt.Errorf("key %q: give secret or secret_sha256, not both", k.Name)
	case k.Secret != "":
		e.digest = digest(k.Secret)
	case k.SecretSHA256 != "":
		raw, err := hex.DecodeString(strings.TrimSpace(k.SecretSHA256))
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("key %q: secret_sha256 is not 64 hex digits", k.Name)
		}
		copy(e.digest[:], raw)
	default:
		return fmt.Errorf("key %q: no secret", k.Name)
	}
	for _, prev := range b.entries {
		if prev.digest == e.digest {
			return fmt.Errorf("key %q: the same secret as key %q", k.Name, prev.key.Name)
		}
	}
	e.key = Key{Name: k.Name, Role: k.Role}
	if k.Limits != nil && k.Role == Tenant {
		l := *k.Limits
		if l.RequestsPerMinute < 0 || l.MaxInFlight < 0 || l.DailyJobs < 0 || l.DailyFrames < 0 || l.DailyBytes < 0 || l.Retention < 0 {
			return fmt.Errorf("key %q: a limit is negative", k.Name)
		}
		e.key.Limits = l
	}
	b.entries = append(b.entries, e)
	return nil
}
