package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// stallServer is a server that takes requests and then stalls: trickle sends one
// byte every two seconds (a slow input source), hang never answers (a webhook
// receiver that hangs). Open counts requests in progress. It lets go at test end.
type stallServer struct {
	URL  string // by name, which the test stack allows
	Open atomic.Int32
}

func newStallServer(t *testing.T, trickle bool) *stallServer {
	s := &stallServer{}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Open.Add(1)
		defer s.Open.Add(-1)
		if trickle {
			w.Header().Set("Content-Type", "image/jpeg")
			w.WriteHeader(200)
		}
		for {
			if trickle {
				w.Write([]byte{0xff})
				w.(http.Flusher).Flush()
			}
			select {
			case <-done:
				return
			case <-r.Context().Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	s.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return s
}

func (s *stallServer) waitOpen(t *testing.T, n int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Open.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in progress at %s, want %d", s.Open.Load(), s.URL, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOneTenantCannotHoldOthersUp: three jobs whose URL source trickles a byte every
// 2 s, and three webhooks whose receiver never answers, do not delay another
// tenant's jobs or webhooks: those all finish and arrive while the stalled ones are
// still stalled. (Before, the worker ran slots + 2 tasks of either kind at once, so
// three stalled fetches or deliveries held everything else for minutes.)
func TestOneTenantCannotHoldOthersUp(t *testing.T) {
	slowTenant, other := as("sk_test_lister"), as("sk_test_other")
	source := newStallServer(t, true)
	target := b64(readFile(t, "faces/grace_hopper.jpg"))
	var slow []string
	for range 3 {
		var c created
		if resp := slowTenant.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"url": source.URL + "/face.jpg"}, "target": map[string]string{"base64": target}}, &c); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("slow submit: %d", resp.StatusCode)
		}
		slow = append(slow, c.ID)
	}
	defer func() {
		for _, id := range slow {
			slowTenant.do(t, "POST", "/v1/jobs/"+id+"/cancel", "", nil, nil)
		}
	}()
	source.waitOpen(t, 3) // all three are being fetched, slowly

	rec, hook := receiver(t)
	var quick []string
	for range 10 {
		quick = append(quick, probe(t, other, hook))
	}
	for _, id := range quick {
		other.waitStatus(t, id, jobs.Succeeded)
	}
	waitWebhook(t, rec, len(quick))
	for _, id := range slow {
		if j := slowTenant.get(t, id); j.Status.Terminal() {
			t.Fatalf("slow job %s ended (%s) before the check: the test proves nothing", id, j.Status)
		}
	}
	if source.Open.Load() != 3 {
		t.Fatalf("the slow fetches are no longer in progress (%d)", source.Open.Load())
	}

	// Three webhooks to a receiver that never answers, then five to a working one.
	hang := newStallServer(t, false)
	var hanging []string
	for range 3 {
		hanging = append(hanging, probe(t, other, hang.URL))
	}
	hang.waitOpen(t, 3)
	rec2, hook2 := receiver(t)
	for range 5 {
		probe(t, other, hook2)
	}
	waitWebhook(t, rec2, 5)
	for _, id := range hanging {
		if j := other.get(t, id); j.Webhook == nil || j.Webhook.Status != "pending" {
			t.Fatalf("hanging webhook of %s is no longer pending (%+v): the test proves nothing", id, j.Webhook)
		}
	}
}
