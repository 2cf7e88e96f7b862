package api

import (
	"context"
	"net/http"
	"time"
)

// handleHealthz says the process is alive; it checks nothing else, so an orchestrator
// does not restart the API because Redis blinked.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz says whether the API can serve: Redis and object storage answer.
func handleReadyz(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"redis": "ok", "storage": "ok"}
		status := http.StatusOK
		if err := d.Redis.Ping(ctx).Err(); err != nil {
			checks["redis"], status = err.Error(), http.StatusServiceUnavailable
		}
		if err := d.Store.Ping(ctx); err != nil {
			checks["storage"], status = err.Error(), http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
	})
}
