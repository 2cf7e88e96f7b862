package api

import "net/http"

// addRoutes is the whole API surface in one place.
func addRoutes(mux *http.ServeMux, d *Deps) {
	auth := requireKey(d.Keys)

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d))

	mux.Handle("POST /v1/jobs", auth(handleCreateJob(d)))
	mux.Handle("GET /v1/jobs/{id}", auth(handleGetJob(d)))
	mux.Handle("POST /v1/jobs/{id}/cancel", auth(handleCancelJob(d)))
	mux.Handle("DELETE /v1/jobs/{id}", auth(handleDeleteJob(d)))
	mux.Handle("GET /v1/jobs/{id}/output", auth(handleJobOutput(d)))
	mux.Handle("POST /v1/uploads", auth(handleCreateUpload(d)))

	if d.Monitor != nil {
		mux.Handle("/monitoring/", auth(d.Monitor))
	}
	mux.Handle("/", auth(handleNotFound()))
}
