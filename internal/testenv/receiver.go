package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// ReceivedRequest is one request recorded by a Receiver.
type ReceivedRequest struct {
	Method string
	Path   string // path and query as received
	Header http.Header
	Body   []byte
	Status int // what the Receiver answered
	At     time.Time
}

// Receiver is a webhook endpoint for tests: an HTTP server on 127.0.0.1 that
// records every request and answers with a scripted sequence of statuses.
// Remember that a netguard client only reaches it when 127.0.0.1/32 is
// allowed.
type Receiver struct {
	URL string // base URL, e.g. http://127.0.0.1:41234

	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	reqs     []ReceivedRequest
	changed  chan struct{} // closed and replaced on every new request
}

// maxReceiverBody caps what a Receiver reads from one request.
const maxReceiverBody = 16 << 20

// NewReceiver starts a Receiver that answers the i-th request with
// statuses[i]; once the sequence is used up the last status repeats
// (200 when none is given). So NewReceiver(t, 500, 500, 200) fails twice then
// succeeds. It is closed when the test ends.
func NewReceiver(t testing.TB, statuses ...int) *Receiver {
	t.Helper()
	if len(statuses) == 0 {
		statuses = []int{http.StatusOK}
	}
	r := &Receiver{statuses: statuses, changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, maxReceiverBody))
	r.mu.Lock()
	n := len(r.reqs)
	status := r.statuses[min(n, len(r.statuses)-1)]
	r.reqs = append(r.reqs, ReceivedRequest{
		Method: req.Method,
		Path:   req.URL.RequestURI(),
		Header: req.Header.Clone(),
		Body:   body,
		Status: status,
		At:     time.Now(),
	})
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(status)
	fmt.Fprintf(w, "receiver: request %d answered %d\n", n+1, status)
}

// Requests returns a copy of the requests received so far, in order.
func (r *Receiver) Requests() []ReceivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedRequest(nil), r.reqs...)
}

// Wait blocks until at least n requests have arrived and returns them, or
// returns ctx's error together with what has arrived so far.
func (r *Receiver) Wait(ctx context.Context, n int) ([]ReceivedRequest, error) {
	for {
		r.mu.Lock()
		got := len(r.reqs)
		ch := r.changed
		r.mu.Unlock()
		if got >= n {
			return r.Requests(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Requests(), fmt.Errorf("testenv: receiver got %d of %d requests: %w", got, n, ctx.Err())
		}
	}
}

// Close shuts the server down; it is also called at test cleanup.
func (r *Receiver) Close() { r.srv.Close() }
