package metrics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// RequestIDHeader is the header a request ID arrives in and is echoed in.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen is the longest incoming request ID that is honoured.
const MaxRequestIDLen = 64

type requestIDKey struct{}

// RequestID gives every request an ID: the incoming X-Request-Id when it is
// sane (1..64 characters of [A-Za-z0-9._-]), else a fresh random one (32 hex
// characters). The ID is set on the response's X-Request-Id header before
// next runs and stored in the request context (read it with RequestIDFrom).
//
// RequestID passes next a new *http.Request (r.WithContext); when combined
// with Middleware, wrap it outside: RequestID(m.Middleware(nil, mux)).
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !ValidRequestID(id) {
			id = NewRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(ContextWithRequestID(r.Context(), id)))
	})
}

// RequestIDFrom returns the request ID stored in ctx, or "" if none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ContextWithRequestID returns a copy of ctx carrying id, e.g. to carry a
// job's originating request ID into the worker that runs it.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// ValidRequestID reports whether id is 1..64 characters of [A-Za-z0-9._-].
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns a random request ID of 32 hex characters.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
