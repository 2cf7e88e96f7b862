package e2e

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
)

// A worker that shuts down in the middle of a job does not lose it: asynq puts the
// task back after the shutdown timeout, swapd's record returns to queued, and the next
// worker runs the job from the start to success.
func TestWorkerRestartLosesNoJob(t *testing.T) {
	s, err := swapdstack.Start(map[string]string{swapdstack.NoWorker: "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := &stack{URL: s.URL, Key: s.Key, Secret: s.Secret, env: s.Env}

	face := readFile(t, "faces/astronaut.png")
	var hits atomic.Int32
	var once sync.Once
	hold, release := make(chan struct{}), make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			once.Do(func() { close(hold) })
			select { // the first fetch hangs: the job is in flight when its worker stops
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(face)
	}))
	defer src.Close()
	defer close(release)

	stopA := s.StartWorker(map[string]string{"SWAPD_SHUTDOWN_TIMEOUT": "500ms"})
	var created created
	c.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"url": strings.Replace(src.URL, "127.0.0.1", "localhost", 1) + "/face.png"},
		"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
	}, &created)
	select {
	case <-hold:
	case <-time.After(30 * time.Second):
		t.Fatal("the first worker never started the job")
	}
	stopA() // SIGTERM with a job in flight
	if j := c.get(t, created.ID); j.Status != jobs.Queued && j.Status != jobs.Running {
		t.Fatalf("after the first worker stopped the job is %s (%+v)", j.Status, j.Error)
	}

	stopB := s.StartWorker(map[string]string{"SWAPD_SHUTDOWN_TIMEOUT": "2s"})
	defer stopB()
	j := c.waitStatus(t, created.ID, jobs.Succeeded)
	if j.Attempts != 2 || j.Output == nil || hits.Load() < 2 {
		t.Fatalf("attempts %d, output %+v, fetches %d", j.Attempts, j.Output, hits.Load())
	}
}
