package apikeys

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	sum := sha256.Sum256([]byte("sk_ops_secret"))
	ring, err := Parse([]byte(`
defaults: {requests_per_minute: 60, max_in_flight: 10}
keys:
  - {name: acme, role: tenant, secret: sk_acme_secret, limits: {daily_jobs: 5000}}
  - {name: beta, secret: sk_beta_secret}
  - {name: ops, role: admin, secret_sha256: ` + hex.EncodeToString(sum[:]) + `}
`))
	if err != nil {
		t.Fatal(err)
	}
	acme, ok := ring.Lookup("sk_acme_secret")
	if !ok || acme.Name != "acme" || acme.Role != Tenant || acme.Limits != (Limits{DailyJobs: 5000}) || acme.ID != ID("sk_acme_secret") {
		t.Fatalf("acme: %+v %v", acme, ok)
	}
	beta, _ := ring.Lookup("sk_beta_secret")
	if beta.Role != Tenant || beta.Limits != (Limits{RequestsPerMinute: 60, MaxInFlight: 10}) {
		t.Fatalf("beta takes the defaults and the tenant role: %+v", beta)
	}
	ops, ok := ring.Lookup("sk_ops_secret")
	if !ok || ops.Role != Admin || ops.ID != ID("sk_ops_secret") {
		t.Fatalf("ops from its digest: %+v %v", ops, ok)
	}
	for _, wrong := range []string{"", "sk_acme_secre", "sk_acme_secret ", strings.ToUpper("sk_acme_secret")} {
		if _, ok := ring.Lookup(wrong); ok {
			t.Errorf("%q accepted", wrong)
		}
	}
	// JSON is YAML too.
	if _, err := Parse([]byte(`{"keys": [{"name": "j", "role": "tenant", "secret": "sk_json_secret"}]}`)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, file := range map[string]string{
		"no keys":        `keys: []`,
		"unknown field":  `keys: [{name: a, secret: sk_aaaaaaaa, limit: {daily_jobs: 1}}]`,
		"unknown role":   `keys: [{name: a, role: root, secret: sk_aaaaaaaa}]`,
		"no secret":      `keys: [{name: a}]`,
		"both secrets":   `keys: [{name: a, secret: sk_aaaaaaaa, secret_sha256: 00}]`,
		"bad digest":     `keys: [{name: a, secret_sha256: abc}]`,
		"no name":        `keys: [{secret: sk_aaaaaaaa}]`,
		"same name":      `keys: [{name: a, secret: sk_aaaaaaaa}, {name: a, secret: sk_bbbbbbbb}]`,
		"same secret":    `keys: [{name: a, secret: sk_aaaaaaaa}, {name: b, secret: sk_aaaaaaaa}]`,
		"not yaml":       `keys: [`,
		"negative limit": `keys: [{name: a, secret: sk_aaaaaaaa, limits: {daily_jobs: -1}}]`,
	} {
		if _, err := Parse([]byte(file)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFromLists(t *testing.T) {
	ring, err := FromLists([]string{"sk_tenant_one"}, []string{"sk_admin_one"}, Limits{RequestsPerMinute: 600})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := ring.Lookup("sk_tenant_one"); k.Role != Tenant || k.Limits.RequestsPerMinute != 600 {
		t.Fatalf("tenant: %+v", k)
	}
	if k, _ := ring.Lookup("sk_admin_one"); k.Role != Admin || k.Limits != (Limits{}) {
		t.Fatalf("admin: %+v", k)
	}
	if _, err := FromLists([]string{"sk_same_key"}, []string{"sk_same_key"}, Limits{}); err == nil {
		t.Fatal("a key both tenant and admin was accepted")
	}
}
