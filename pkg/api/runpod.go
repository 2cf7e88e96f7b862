package api

// The RunPod-compatible job API: RunPod's serverless queue protocol served under
// /v2/{endpoint}/ for the endpoint ids in Deps.RunPodEndpoints, so a RunPod client
// (runpod-python, or plain HTTP written against api.runpod.ai) can use swapd by changing
// its base URL and key.
//
// Jobs submitted here are ordinary swapd jobs of the calling key, visible under
// /v1/jobs too, with jobs.Job.Via naming the input schema (pkg/runpod parses both and
// renders results). Every endpoint id serves the same queue: ids only exist so clients
// configured with one keep working, and an unknown id is a 404.
//
//	POST /run           queue a job                     → {"id", "status": "IN_QUEUE"}
//	POST /runsync       queue and wait (?wait= ms, 1000–300000, default 90000) → the status
//	GET  /status/{id}   the job as RunPod shows it      (?ttl= is ignored)
//	GET  /status-sync/{id}  wait for the job like /runsync (?wait=) → the status
//	GET  /stream/{id}   progress as stream chunks, each handed out once
//	POST /cancel/{id}   cancel a queued or running job  → {"id", "status", "delayTime", "executionTime"}
//	POST /retry/{id}    run a FAILED or TIMED_OUT job again under the same id
//	POST /purge-queue   cancel the caller's queued jobs → {"removed", "status": "completed"}
//	GET  /health        queue and worker counts
//
// Errors have RunPod's shape, {"error": "<message>"}, with swapd's HTTP statuses; so
// do unknown routes and methods under /v2/ (handleRunPodFallback).
//
// runpod-sdk (JS) and runpod-python work against it unchanged once pointed at swapd's
// /v2 base URL; internal/e2e runs both clients' request sequences.

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/runpod"
)

// DefaultRunPodEndpoint is the endpoint id served when none is configured.
const DefaultRunPodEndpoint = "swapd"

// /runsync waits this long by default, and within these bounds when ?wait= is given
// (RunPod's values, milliseconds in the query).
const (
	runsyncDefaultWait = 90 * time.Second
	runsyncMinWait     = time.Second
	runsyncMaxWait     = 300 * time.Second
)

// runpodAuth accepts swapd's keys as RunPod clients send them, "Authorization: Bearer
// <key>" or the bare "Authorization: <key>" of RunPod's reference examples, then
// checks the endpoint id. Both failures answer in RunPod's error shape.
func runpodAuth(d *Deps) func(http.Handler) http.Handler {
	endpoints := map[string]bool{}
	for _, e := range d.RunPodEndpoints {
		if e = strings.TrimSpace(e); e != "" {
			endpoints[e] = true
		}
	}
	if len(endpoints) == 0 {
		endpoints[DefaultRunPodEndpoint] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := d.authenticate(r.Context(), runpodKey(r))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="swapd"`)
				writeRunPodMessage(w, http.StatusUnauthorized, "unauthorized: send your API key as 'Authorization: Bearer <key>'")
				return
			}
			if ep := r.PathValue("endpoint"); !endpoints[ep] {
				writeRunPodMessage(w, http.StatusNotFound, fmt.Sprintf("endpoint %q not found", ep))
				return
			}
			if !d.allowRequest(w, r, key, runpodFail(d)) {
				return
			}
			next.ServeHTTP(w, r.WithContext(withKey(r.Context(), key)))
		})
	}
}

// runpodKey is the key of "Bearer <key>" (any case), of Basic auth, or the whole
// header when it has no scheme.
func runpodKey(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, found := strings.Cut(h, " ")
	switch {
	case !found:
		return h
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest)
	}
	return presentedKey(r)
}

type runpodError struct {
	Error string `json:"error"`
}

func writeRunPodMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, runpodError{Error: msg})
}

// runpodFail is writeRunPodError in the shape middleware takes.
func runpodFail(d *Deps) func(http.ResponseWriter, *slog.Logger, error) {
	return func(w http.ResponseWriter, _ *slog.Logger, err error) { writeRunPodError(w, d, err) }
}

// writeRunPodError answers with err's message and the HTTP status of its code,
// classified as writeError does (a dependency that is down is 503 with Retry-After).
func writeRunPodError(w http.ResponseWriter, d *Deps, err error) {
	e := classify(d.Log, err)
	if e.Code == errcode.Unavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeRunPodMessage(w, errcode.HTTPStatus(e.Code), e.Message)
}

// runpodRoutes are the /v2/{endpoint}/ routes by their path after the endpoint id
// ("status/" takes a job id), and their method: handleRunPodFallback uses it to tell a
// wrong method from an unknown path.
var runpodRoutes = map[string]string{
	"run": http.MethodPost, "runsync": http.MethodPost, "purge-queue": http.MethodPost, "health": http.MethodGet,
	"status/": http.MethodGet, "status-sync/": http.MethodGet, "stream/": http.MethodGet,
	"cancel/": http.MethodPost, "retry/": http.MethodPost,
}

// handleRunPodFallback answers every request under /v2/ that no route takes, in
// RunPod's error shape: 401 without a valid key, 405 for a route's path with another
// method, else 404. (Without it they would get swapd's native error body, which RunPod
// clients cannot read.)
func handleRunPodFallback(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := d.authenticate(r.Context(), runpodKey(r)); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swapd"`)
			writeRunPodMessage(w, http.StatusUnauthorized, "unauthorized: send your API key as 'Authorization: Bearer <key>'")
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
		route := ""
		switch {
		case len(parts) == 2 && parts[1] != "":
			route = parts[1]
		case len(parts) == 3 && parts[2] != "":
			route = parts[1] + "/"
		}
		if method, ok := runpodRoutes[route]; ok && parts[0] != "" && method != r.Method {
			w.Header().Set("Allow", method)
			writeRunPodMessage(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, method))
			return
		}
		writeRunPodMessage(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
}

// objects is the store as pkg/runpod reads it (nil when there is none, as in tests).
func (d *Deps) objects() runpod.Objects {
	if d.Store == nil {
		return nil
	}
	return d.Store
}
