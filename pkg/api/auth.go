package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/errcode"
)

// requireKey accepts "Authorization: Bearer <key>", and HTTP Basic auth with the key as
// password so a browser can open the dashboard. Tenant and admin keys are both
// accepted (the keyring compares every key in constant time); the request's context
// then carries the key, whose ID owns what the request creates, and the key's request
// rate is checked (ratelimit.go).
func requireKey(d *Deps) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := d.authenticate(r.Context(), presentedKey(r))
			if !ok {
				unauthorized(w, r)
				return
			}
			if !d.allowRequest(w, r, key, writeError) {
				return
			}
			next.ServeHTTP(w, r.WithContext(withKey(r.Context(), key)))
		})
	}
}

// requireAdmin lets only operator keys (role admin) through: the dashboard and its API
// show and change every tenant's tasks and read Redis INFO, and /metrics counts every
// tenant's jobs. A tenant key is told 403 FORBIDDEN, not 401, so a client learns its
// key works but lacks the role.
func requireAdmin(d *Deps) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := d.authenticate(r.Context(), presentedKey(r))
			switch {
			case !ok:
				unauthorized(w, r)
			case key.Role != apikeys.Admin:
				writeJSON(w, http.StatusForbidden, errorBody{errcode.New(errcode.Forbidden,
					"%s needs an operator (admin) key; tenant keys cannot open it", r.URL.Path)})
			default:
				next.ServeHTTP(w, r.WithContext(withKey(r.Context(), key)))
			}
		})
	}
}

// authenticate returns the key a request presents: one of the keyring's, or, when
// SWAPD_JWKS_URL is set, the tenant a valid JWT names.
func (d *Deps) authenticate(ctx context.Context, presented string) (apikeys.Key, bool) {
	if k, ok := d.Keyring.Lookup(presented); ok {
		return k, true
	}
	if d.JWT != nil && apikeys.LooksLikeJWT(presented) {
		k, err := d.JWT.Verify(ctx, presented)
		if err == nil {
			return k, true
		}
		d.Log.Info("bearer token refused", "err", err)
	}
	return apikeys.Key{}, false
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

type keyCtxKey struct{}

func withKey(ctx context.Context, k apikeys.Key) context.Context {
	return context.WithValue(ctx, keyCtxKey{}, k)
}

// keyOf returns the key that authenticated the request.
func keyOf(ctx context.Context) apikeys.Key {
	k, _ := ctx.Value(keyCtxKey{}).(apikeys.Key)
	return k
}

// owner returns the id of the key that authenticated the request.
func owner(r *http.Request) string { return keyOf(r.Context()).ID }

// ownerOf is owner for code that has only the request's context.
func ownerOf(ctx context.Context) string { return keyOf(ctx).ID }
