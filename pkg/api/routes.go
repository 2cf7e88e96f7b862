package api

import "net/http"

// router is what addRoutes registers on: an *http.ServeMux, or a recorder in tests.
type router interface {
	Handle(pattern string, h http.Handler)
}

// addRoutes is the whole API surface in one place.
func addRoutes(mux router, d *Deps) {
	auth := requireKey(d)
	admin := requireAdmin(d)

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d))

	quota := countJob(d, writeError)
	mux.Handle("POST /v1/jobs", auth(quota(handleCreateJob(d))))
	mux.Handle("GET /v1/jobs", auth(handleListJobs(d)))
	mux.Handle("DELETE /v1/jobs", admin(handleEraseJobs(d)))
	mux.Handle("GET /v1/jobs/{id}/events", auth(handleJobEvents(d)))
	mux.Handle("GET /v1/jobs/{id}", auth(handleGetJob(d)))
	mux.Handle("POST /v1/jobs/{id}/cancel", auth(handleCancelJob(d)))
	mux.Handle("DELETE /v1/jobs/{id}", auth(handleDeleteJob(d)))
	mux.Handle("GET /v1/jobs/{id}/output", auth(handleJobOutput(d)))
	// Batches (batches.go): every item counts against the daily quotas there, all or none.
	mux.Handle("POST /v1/batches", auth(handleCreateBatch(d)))
	mux.Handle("GET /v1/batches/{id}", auth(handleGetBatch(d)))
	mux.Handle("POST /v1/batches/{id}/cancel", auth(handleCancelBatch(d)))
	mux.Handle("DELETE /v1/batches/{id}", auth(handleDeleteBatch(d)))
	mux.Handle("POST /v1/uploads", auth(handleCreateUpload(d)))
	mux.Handle("GET /v1/usage", auth(handleUsage(d)))
	mux.Handle("GET /openapi.json", auth(handleOpenAPI(d)))
	mux.Handle("GET /docs", auth(handleDocs(d)))

	// RunPod's serverless job protocol (runpod.go), with its own auth and error shape.
	rp := runpodAuth(d)
	rpQuota := countJob(d, runpodFail(d))
	mux.Handle("POST /v2/{endpoint}/run", rp(rpQuota(handleRunPodRun(d))))
	mux.Handle("POST /v2/{endpoint}/runsync", rp(rpQuota(handleRunPodRunSync(d))))
	mux.Handle("GET /v2/{endpoint}/status/{id}", rp(handleRunPodStatus(d)))
	mux.Handle("GET /v2/{endpoint}/status-sync/{id}", rp(handleRunPodStatusSync(d)))
	mux.Handle("GET /v2/{endpoint}/stream/{id}", rp(handleRunPodStream(d)))
	mux.Handle("POST /v2/{endpoint}/cancel/{id}", rp(handleRunPodCancel(d)))
	mux.Handle("POST /v2/{endpoint}/retry/{id}", rp(handleRunPodRetry(d)))
	mux.Handle("POST /v2/{endpoint}/purge-queue", rp(handleRunPodPurge(d)))
	mux.Handle("GET /v2/{endpoint}/health", rp(handleRunPodHealth(d)))
	mux.Handle("/v2/", handleRunPodFallback(d))

	if d.Metrics != nil {
		mux.Handle("GET /metrics", admin(d.Metrics.Handler()))
	}
	if d.Monitor != nil {
		mux.Handle("/monitoring/", admin(d.Monitor))
	}
	mux.Handle("/", auth(handleNotFound(mux)))
}
