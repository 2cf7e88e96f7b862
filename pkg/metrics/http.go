package metrics

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// Middleware records, for every request next serves, swapd_http_requests_total
// {route,method,status} and swapd_http_request_duration_seconds{route,method}.
//
// The route label comes from route, called after next returns; a nil route
// means PatternRoute (r.Pattern, which a Go 1.22+ ServeMux sets on the
// request it dispatches). Whatever route returns must be a bounded value
// such as a pattern ("GET /v1/jobs/{id}"), never the raw path; "" becomes
// "other". Methods outside the standard set are also labelled "other".
//
// r.Pattern is only visible here when the ServeMux receives this very
// *http.Request, so put Middleware directly around the mux, or inside any
// middleware that replaces the request (r.WithContext, e.g. RequestID), or
// pass MuxRoute(mux), which works in any order.
//
// The ResponseWriter handed to next keeps http.Flusher working (for SSE) and
// has Unwrap, so http.ResponseController reaches the underlying writer. On a
// nil *Metrics, Middleware returns next unchanged.
func (m *Metrics) Middleware(route func(*http.Request) string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	if route == nil {
		route = PatternRoute
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		returned := false
		defer func() {
			status := sw.status
			if status == 0 {
				if returned {
					status = http.StatusOK // handler wrote nothing: net/http sends 200
				} else {
					status = http.StatusInternalServerError // handler panicked before writing
				}
			}
			rt := route(r)
			if rt == "" {
				rt = Other
			}
			method := normMethod(r.Method)
			m.httpRequests.WithLabelValues(rt, method, strconv.Itoa(status)).Inc()
			m.httpDuration.WithLabelValues(rt, method).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
		returned = true
	})
}

// PatternRoute returns the ServeMux pattern that matched r ("GET
// /v1/jobs/{id}"), or "" when no pattern did.
func PatternRoute(r *http.Request) string { return r.Pattern }

// MuxRoute returns a route function for Middleware that asks mux which
// pattern r matches, so the label is right even when a middleware between
// Middleware and mux replaces the request. Unmatched requests give "".
func MuxRoute(mux *http.ServeMux) func(*http.Request) string {
	return func(r *http.Request) string {
		if r.Pattern != "" {
			return r.Pattern
		}
		_, pattern := mux.Handler(r)
		return pattern
	}
}

func normMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodConnect,
		http.MethodOptions, http.MethodTrace:
		return method
	}
	return Other
}

// statusWriter remembers the status code sent. It passes Flush through (so
// SSE keeps streaming), exposes Unwrap for http.ResponseController, and
// forwards ReadFrom so sendfile-style copies stay fast.
type statusWriter struct {
	http.ResponseWriter
	status int // final (>= 200, or 101) status sent; 0 until then
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, through any wrappers below.
func (w *statusWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is what http.ResponseController.Flush calls; it reports
// http.ErrNotSupported when nothing below can flush.
func (w *statusWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom lets io.Copy use the underlying writer's ReadFrom (sendfile).
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

var (
	_ http.Flusher  = (*statusWriter)(nil)
	_ io.ReaderFrom = (*statusWriter)(nil)
)
