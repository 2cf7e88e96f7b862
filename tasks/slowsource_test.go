package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
)

// TestSlowSourceCutOff: a source that trickles bytes below the minimum rate fails
// with FETCH_FAILED (a permanent error: not retried); one above it is read whole.
func TestSlowSourceCutOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk, n := 1, 100 // 2 s of trickle, 50 B/s
		if r.URL.Path == "/fast" {
			chunk, n = 4000, 20 // 80 kB in 0.4 s
		}
		for range n {
			w.Write(make([]byte, chunk))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	f := &Fetcher{Client: netguard.NewClient(netguard.Policy{Allow: []string{"127.0.0.0/8"}}, 0), MinRate: MinRate{Bytes: 2000, Window: 500 * time.Millisecond}}
	_, err := f.Fetch(context.Background(), jobs.Input{URL: srv.URL + "/slow"}, 1<<20)
	if errcode.Code(err) != errcode.FetchFailed {
		t.Fatalf("slow source: %v", err)
	}
	data, err := f.Fetch(context.Background(), jobs.Input{URL: srv.URL + "/fast"}, 1<<20)
	if err != nil || len(data) != 80000 {
		t.Fatalf("fast source: %d bytes, %v", len(data), err)
	}
}
