package workercmd

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/metrics"
)

// serveMetrics serves /metrics for Prometheus on addr, and the readiness probe
// /readyz (503 while the worker warms up, 200 once it takes jobs; no key needed). With
// keys, a scrape needs "Authorization: Bearer <key>" (Prometheus' authorization
// setting); without, the default loopback address keeps it local.
func serveMetrics(addr string, m *metrics.Metrics, keys []string, ready http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := m.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(keys) > 0 {
			got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			ok := 0
			for _, k := range keys {
				ok |= subtle.ConstantTimeCompare([]byte(k), []byte(got))
			}
			if ok != 1 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	if ready != nil {
		mux.Handle("GET /readyz", ready)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("worker metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
