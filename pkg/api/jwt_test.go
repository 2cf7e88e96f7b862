package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/swapd/swapd/pkg/apikeys"
)

// jwksServer serves a JWKS over HTTP whose keys the test can rotate.
type jwksServer struct {
	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey // by kid
	hits int
	*httptest.Server
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{keys: map[string]*rsa.PrivateKey{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		var keys []map[string]string
		for kid, k := range s.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(t *testing.T, kid string) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.keys[kid] = k
	s.mu.Unlock()
	return k
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTBearerTokens: tokens verified against a JWKS served over HTTP by the test:
// issuer, audience, expiry and signature checked; the tenant is the configured claim
// and owns the same jobs whatever token it comes with; a rotated signing key is
// fetched on first sight of its kid; forged, expired and HMAC-confused tokens are 401.
func TestJWTBearerTokens(t *testing.T) {
	jwks := newJWKSServer(t)
	k1 := jwks.add(t, "k1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := apikeys.NewJWTVerifier(ctx, apikeys.JWTConfig{URL: jwks.URL, Issuer: "https://idp.test", Audience: "swapd",
		TenantClaim: "org", Limits: apikeys.Limits{RequestsPerMinute: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var seen []apikeys.Key
	var mu sync.Mutex
	h := requireKey(testDeps(&Deps{Keys: []string{"sk_plain"}, JWT: v}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, keyOf(r.Context()))
		mu.Unlock()
		w.WriteHeader(204)
	}))
	status := func(token string) int {
		r := httptest.NewRequest("GET", "/v1/jobs", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	now := time.Now()
	good := jwt.MapClaims{"iss": "https://idp.test", "aud": "swapd", "org": "acme", "sub": "user-1", "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for a, b := range good {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	if got := status(sign(t, jwt.SigningMethodRS256, k1, "k1", good)); got != 204 {
		t.Fatalf("good token: %d", got)
	}
	if got := status(sign(t, jwt.SigningMethodRS256, k1, "k1", with("sub", "user-2"))); got != 204 {
		t.Fatalf("second user of the tenant: %d", got)
	}
	if seen[0].ID != seen[1].ID || seen[0].Name != "acme" || seen[0].Role != apikeys.Tenant || seen[0].Limits.RequestsPerMinute != 5 {
		t.Fatalf("tenant keys: %+v", seen)
	}
	// The IdP rotates its signing key: a token with the new kid makes the verifier
	// fetch the JWKS again (at most once a minute), and it is accepted.
	k2 := jwks.add(t, "k2")
	if got := status(sign(t, jwt.SigningMethodRS256, k2, "k2", good)); got != 204 {
		t.Fatalf("token signed with the rotated key: %d", got)
	}
	jwks.mu.Lock()
	hits := jwks.hits
	jwks.mu.Unlock()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER := k1.PublicKey.N.Bytes()
	for name, token := range map[string]string{
		"expired":           sign(t, jwt.SigningMethodRS256, k1, "k1", with("exp", now.Add(-time.Hour).Unix())),
		"no expiry":         sign(t, jwt.SigningMethodRS256, k1, "k1", with("exp", nil)),
		"not yet valid":     sign(t, jwt.SigningMethodRS256, k1, "k1", with("nbf", now.Add(time.Hour).Unix())),
		"other issuer":      sign(t, jwt.SigningMethodRS256, k1, "k1", with("iss", "https://evil.test")),
		"other audience":    sign(t, jwt.SigningMethodRS256, k1, "k1", with("aud", "someone-else")),
		"no tenant claim":   sign(t, jwt.SigningMethodRS256, k1, "k1", with("org", nil)),
		"forged signature":  sign(t, jwt.SigningMethodRS256, other, "k1", good),
		"unknown key":       sign(t, jwt.SigningMethodES256, ec, "k9", good),
		"HMAC with the key": sign(t, jwt.SigningMethodHS256, pubDER, "k1", good),
		"garbage":           "a.b.c-not-a-token-at-all",
	} {
		if got := status(token); got != 401 {
			t.Errorf("%s: %d, want 401", name, got)
		}
	}
	// A stream of unknown key ids right after a refresh fetches the JWKS no more.
	for i := range 5 {
		status(sign(t, jwt.SigningMethodES256, ec, fmt.Sprintf("forged-%d", i), good))
	}
	jwks.mu.Lock()
	if jwks.hits != hits {
		t.Errorf("forged key ids made %d JWKS fetches within a minute of a refresh", jwks.hits-hits)
	}
	jwks.mu.Unlock()
	// Plain keys still work next to tokens.
	if got := status("sk_plain"); got != 204 {
		t.Fatalf("plain key: %d", got)
	}
}
