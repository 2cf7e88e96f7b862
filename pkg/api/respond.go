package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

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

// writeError answers with err's code and message. Errors without a code are logged and
// reported as INTERNAL, so no internal detail reaches a client.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	e, ok := errcode.As(err)
	if !ok {
		log.Error("internal error", "err", err)
		e = errcode.New(errcode.Internal, "an internal error occurred; it has been logged")
	}
	writeJSON(w, errcode.HTTPStatus(e.Code), errorBody{Error: e})
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{errcode.New(errcode.NotFound, "no route for %s %s", r.Method, r.URL.Path)})
	})
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
