package apikeys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWTConfig says which bearer tokens are accepted besides keys: tokens signed by a key
// in the JWKS at URL, issued by Issuer for Audience, naming their tenant in the claim
// TenantClaim (default "sub"). Such a tenant gets Limits.
type JWTConfig struct {
	URL         string
	Issuer      string
	Audience    string
	TenantClaim string
	Limits      Limits
	// Client fetches the JWKS: netguard's, so a JWKS URL cannot reach private
	// addresses unless the operator allows them.
	Client *http.Client
}

// JWTVerifier checks bearer tokens (golang-jwt) against a JWKS that it caches and
// refreshes (MicahParks/keyfunc and jwkset): every 15 minutes, and at most once a
// minute sooner when a token names a key id the cached set lacks, so a signing-key
// rotation is picked up without a restart and a stream of forged key ids cannot
// hammer the JWKS server.
type JWTVerifier struct {
	cfg    JWTConfig
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
}

// NewJWTVerifier fetches the JWKS once, so a wrong URL fails at start, then keeps it
// fresh until ctx ends.
func NewJWTVerifier(ctx context.Context, cfg JWTConfig) (*JWTVerifier, error) {
	if cfg.URL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("JWT: a JWKS URL, an issuer and an audience are required")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "sub"
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	remote, err := jwkset.NewStorageFromHTTP(cfg.URL, jwkset.HTTPClientStorageOptions{
		Client: client, Ctx: ctx, HTTPTimeout: 10 * time.Second, RefreshInterval: 15 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", cfg.URL, err)
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{cfg.URL: remote},
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
		RateLimitWaitMax:  time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", cfg.URL, err)
	}
	keys, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", cfg.URL, err)
	}
	parser := jwt.NewParser(jwt.WithIssuer(cfg.Issuer), jwt.WithAudience(cfg.Audience), jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second), jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}))
	return &JWTVerifier{cfg: cfg, keys: keys, parser: parser}, nil
}

// LooksLikeJWT reports whether s has a JWT's three dot-separated parts, so the keyring
// is asked first and the verifier only for what could be a token.
func LooksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 && len(s) > 20 }

// Verify returns the tenant key a valid token stands for: signature (asymmetric
// algorithms only: an HMAC "signed" with a public key is refused), expiry (required),
// not-before, issuer and audience checked. Its ID is derived from the issuer and the
// tenant, so all of a tenant's tokens own the same jobs.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (Key, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keys.KeyfuncCtx(ctx)); err != nil {
		return Key{}, fmt.Errorf("JWT: %w", err)
	}
	tenant, _ := claims[v.cfg.TenantClaim].(string)
	if tenant == "" {
		return Key{}, fmt.Errorf("JWT: no %q claim naming the tenant", v.cfg.TenantClaim)
	}
	return Key{ID: ID("jwt:" + v.cfg.Issuer + ":" + tenant), Name: tenant, Role: Tenant, Limits: v.cfg.Limits}, nil
}
