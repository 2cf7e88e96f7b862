package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/swapd/swapd/pkg/errcode"
)

// requireKey accepts "Authorization: Bearer <key>", and HTTP Basic auth with the key as
// password so a browser can open the dashboard. Every configured key is compared in
// constant time, so response timing tells nothing about how close a guess was.
func requireKey(keys []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if validKey(keys, presentedKey(r)) {
				next.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(r.URL.Path, "/monitoring") {
				w.Header().Set("WWW-Authenticate", `Basic realm="swapd"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="swapd"`)
			}
			writeJSON(w, http.StatusUnauthorized, errorBody{errcode.New(errcode.Unauthorized,
				"send your API key as 'Authorization: Bearer <key>'")})
		})
	}
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
