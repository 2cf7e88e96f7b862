package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/swapd/swapd/pkg/errcode"
)

// requireKey accepts "Authorization: Bearer <key>", and HTTP Basic auth with the key as
// password so a browser can open the dashboard. Tenant and admin keys are both
// accepted; the request's context then carries the key's id, the owner of what it
// creates. Every configured key is compared in constant time, so response timing
// tells nothing about how close a guess was.
func requireKey(d *Deps) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := presentedKey(r)
			if validKey(d.AdminKeys, k) || validKey(d.Keys, k) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerCtxKey{}, KeyID(k))))
				return
			}
			unauthorized(w, r)
		})
	}
}

// requireAdmin lets only operator keys (SWAPD_ADMIN_KEYS) through: the dashboard and
// its API show and change every tenant's tasks and read Redis INFO, and /metrics
// counts every tenant's jobs. A tenant key is told 403 FORBIDDEN, not 401, so a
// client learns its key works but lacks the role.
func requireAdmin(d *Deps) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := presentedKey(r)
			switch {
			case validKey(d.AdminKeys, k):
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerCtxKey{}, KeyID(k))))
			case validKey(d.Keys, k):
				writeJSON(w, http.StatusForbidden, errorBody{errcode.New(errcode.Forbidden,
					"%s needs an operator (admin) key; tenant keys cannot open it", r.URL.Path)})
			default:
				unauthorized(w, r)
			}
		})
	}
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/monitoring") || r.URL.Path == "/docs" || r.URL.Path == "/openapi.json" {
		w.Header().Set("WWW-Authenticate", `Basic realm="swapd"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="swapd"`)
	}
	writeJSON(w, http.StatusUnauthorized, errorBody{errcode.New(errcode.Unauthorized,
		"send your API key as 'Authorization: Bearer <key>'")})
}

func presentedKey(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if k, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(k)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return ""
}

func validKey(keys []string, got string) bool {
	if got == "" {
		return false
	}
	match := 0
	for _, k := range keys {
		match |= subtle.ConstantTimeCompare([]byte(k), []byte(got))
	}
	return match == 1
}

type ownerCtxKey struct{}

// KeyID is the stable, non-secret id of an API key: the owner recorded on its jobs.
// Only a hash is stored, so a Redis dump does not leak keys.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte("swapd-key:" + key))
	return hex.EncodeToString(sum[:12])
}

// owner returns the id of the key that authenticated the request.
func owner(r *http.Request) string { return ownerOf(r.Context()) }

// ownerOf is owner for code that has only the request's context.
func ownerOf(ctx context.Context) string {
	s, _ := ctx.Value(ownerCtxKey{}).(string)
	return s
}
