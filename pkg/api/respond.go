package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/metrics"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error *errcode.Error `json:"error"`
}

// writeError answers with err's code and message. An error from a dependency that is
// down (Redis, object storage: refused or dropped connections, timeouts) is 503
// UNAVAILABLE with Retry-After, so clients back off and try again instead of treating
// it as a bug. Other errors without a code are logged and reported as INTERNAL, so no
// internal detail reaches a client.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	e := classify(log, err)
	if e.Code == errcode.Unavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeJSON(w, errcode.HTTPStatus(e.Code), errorBody{Error: e})
}

// retryAfterSeconds is what a 503 asks clients to wait: Redis and MinIO restart in
// seconds, and go-redis reconnects on the next command.
const retryAfterSeconds = "2"

// classify turns any error into the coded error a client sees.
func classify(log *slog.Logger, err error) *errcode.Error {
	if e, ok := errcode.As(err); ok {
		return e
	}
	if dependencyDown(err) {
		log.Warn("dependency unavailable", "err", err)
		return errcode.New(errcode.Unavailable, "swapd's queue or storage is unavailable right now; nothing was accepted, try again shortly")
	}
	log.Error("internal error", "err", err)
	return errcode.New(errcode.Internal, "an internal error occurred; it has been logged")
}

// dependencyDown reports whether err says a network dependency could not be reached
// or stopped answering, as opposed to a bug or a bad request.
func dependencyDown(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &op), errors.As(err, &dns),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), // a connection Redis or Sentinel's switch closed
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	// Redis answers these while it cannot serve: loading its data after a restart, a
	// replica that lost its primary, a primary in a failover (UNBLOCKED: a blocked
	// command cut off as the node turned replica), or out of memory. go-redis's
	// Sentinel client says so when no sentinel names a primary.
	msg := err.Error()
	for _, p := range []string{"LOADING ", "MASTERDOWN ", "READONLY ", "TRYAGAIN ", "CLUSTERDOWN ", "OOM ", "NOREPLICAS ", "UNBLOCKED ",
		"redis: all sentinels specified in configuration are unreachable"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// handleNotFound answers requests no route matched: 405 METHOD_NOT_ALLOWED with an
// Allow header when the path exists under other methods (the catch-all "/" route
// would otherwise hide the mux's own 405), else 404.
func handleNotFound(mux router) http.Handler {
	m, _ := mux.(interface {
		Handler(*http.Request) (http.Handler, string)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(m, r); m != nil && len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{errcode.New(errcode.MethodNotAllowed,
				"%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
			return
		}
		writeJSON(w, http.StatusNotFound, errorBody{errcode.New(errcode.NotFound, "no route for %s %s", r.Method, r.URL.Path)})
	})
}

// allowedMethods lists the methods under which m routes r's path somewhere other than
// the catch-all.
func allowedMethods(m interface {
	Handler(*http.Request) (http.Handler, string)
}, r *http.Request) []string {
	if m == nil {
		return nil
	}
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if method == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, method)
		}
	}
	return allow
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming handlers (the dashboard) working through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"ms", time.Since(t0).Milliseconds(), "request_id", metrics.RequestIDFrom(r.Context()))
	})
}
