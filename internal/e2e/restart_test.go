package e2e

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

	src, hold, hits := firstFetchHangs(t)

	stopA := s.StartWorker(map[string]string{"SWAPD_SHUTDOWN_TIMEOUT": "500ms"})
	var created created
	c.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"url": src},
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

// A worker killed outright (SIGKILL, a lost machine) does not lose its job either:
// asynq's lease expires, the recoverer of a live worker puts the task back, and swapd's
// record — still "running" from the dead attempt — lets the new attempt run to success.
// This takes asynq's fixed lease (30 s) plus its recoverer's margin: about a minute.
func TestWorkerCrashLosesNoJob(t *testing.T) {
	s, err := swapdstack.Start(map[string]string{swapdstack.NoWorker: "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := &stack{URL: s.URL, Key: s.Key, Secret: s.Secret, env: s.Env}

	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/swapd/swapd/cmd/worker").CombinedOutput(); err != nil {
		t.Fatalf("build the worker: %v\n%s", err, out)
	}
	src, hold, hits := firstFetchHangs(t)

	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "SWAPD_METRICS_ADDR=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var created created
	c.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"url": src},
		"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
	}, &created)
	select {
	case <-hold:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the worker process never started the job")
	}
	if err := cmd.Process.Kill(); err != nil { // no shutdown, no requeue: a crash
		t.Fatal(err)
	}
	cmd.Wait()
	if j := c.get(t, created.ID); j.Status != jobs.Running {
		t.Fatalf("after the crash the record says %s", j.Status)
	}

	stop := s.StartWorker(map[string]string{"SWAPD_SHUTDOWN_TIMEOUT": "2s"})
	defer stop()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		j := c.get(t, created.ID)
		if j.Status == jobs.Succeeded {
			if j.Attempts != 2 || hits.Load() < 2 {
				t.Fatalf("attempts %d, fetches %d", j.Attempts, hits.Load())
			}
			return
		}
		if j.Status.Terminal() || time.Now().After(deadline) {
			t.Fatalf("job %s after the crash: %+v", j.Status, j.Error)
		}
		time.Sleep(time.Second)
	}
}

// firstFetchHangs serves a source face whose first fetch hangs (the job is then in
// flight on its worker) and whose later fetches succeed. It returns the URL (by name,
// which the test stack allows), a channel closed when the first fetch arrives, and the
// fetch count.
func firstFetchHangs(t *testing.T) (url string, hold <-chan struct{}, hits *atomic.Int32) {
	face := readFile(t, "faces/astronaut.png")
	hits = new(atomic.Int32)
	first, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			close(first)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(face)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/face.png", first, hits
}
