package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// TestTenantsStayApart: two tenant keys and one admin key against every route in the
// README. A tenant cannot use another tenant's upload, see or act on its jobs (natively
// or through the RunPod API), nor open the dashboard, its API or /metrics; the admin
// key opens those, and the task payloads it sees there carry no presigned URL and no
// input bytes.
func TestTenantsStayApart(t *testing.T) {
	alice, bob, admin := st, as("sk_test_other"), as(st.Admin)
	face := readFile(t, "faces/astronaut.png")
	target := readFile(t, "faces/grace_hopper.jpg")

	// Uploads are bound to the key that made them.
	aliceUpload := alice.upload(t, face)
	var e apiError
	resp := bob.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"key": aliceUpload}, "target": map[string]string{"base64": b64(target)}}, &e)
	if resp.StatusCode != 400 || e.Error.Code != "INPUT_NOT_FOUND" {
		t.Fatalf("bob used alice's upload: %d %+v", resp.StatusCode, e.Error)
	}
	var missing apiError
	bob.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"key": strings.Replace(aliceUpload, "-", "-0", 1)}, "target": map[string]string{"base64": b64(target)}}, &missing)
	if missing.Error.Code != e.Error.Code {
		t.Errorf("another key's upload (%s) answers differently from a missing one (%s)", e.Error.Code, missing.Error.Code)
	}
	// Alice's job, with a webhook receiver that always fails: its delivery task ends
	// archived, where the dashboard shows its payload.
	rec, hook := receiver(t, 500)
	var c created
	if resp := alice.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"key": aliceUpload}, "target": map[string]string{"base64": b64(target)},
		"webhook": map[string]string{"url": hook}}, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("alice submit: %d", resp.StatusCode)
	}
	alice.waitStatus(t, c.ID, jobs.Succeeded)

	// Bob sees nothing of it, on either API.
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/jobs/" + c.ID}, {"GET", "/v1/jobs/" + c.ID + "/events"}, {"GET", "/v1/jobs/" + c.ID + "/output"},
		{"POST", "/v1/jobs/" + c.ID + "/cancel"}, {"DELETE", "/v1/jobs/" + c.ID},
		{"GET", "/v2/swapd/status/" + c.ID}, {"GET", "/v2/swapd/stream/" + c.ID},
		{"POST", "/v2/swapd/cancel/" + c.ID}, {"POST", "/v2/swapd/retry/" + c.ID},
	} {
		if resp := bob.do(t, r.method, r.path, "", nil, nil); resp.StatusCode != 404 {
			t.Errorf("bob %s %s: %d, want 404", r.method, r.path, resp.StatusCode)
		}
	}
	var page jobs.Page
	bob.do(t, "GET", "/v1/jobs?limit=100", "", nil, &page)
	for _, j := range page.Jobs {
		if j.ID == c.ID {
			t.Error("alice's job is in bob's list")
		}
	}
	// Bob's purge of the queue touches only his own jobs; alice's job and upload stay.
	bob.do(t, "POST", "/v2/swapd/purge-queue", "", nil, nil)
	if j := alice.get(t, c.ID); j.Status != jobs.Succeeded {
		t.Fatalf("alice's job after bob's requests: %s", j.Status)
	}
	if _, err := alice.store(t).Stat(context.Background(), aliceUpload); err != nil {
		t.Fatalf("alice's upload after bob's requests: %v", err)
	}

	// The webhook runs its whole schedule (4 attempts), then its task is archived.
	waitWebhook(t, rec, 4)
	for _, q := range rec.Requests() {
		if !bytes.Contains(q.Body, []byte("X-Amz-Signature")) {
			t.Errorf("a delivered body lacks the presigned output URL: %.300s", q.Body)
		}
	}

	// Operator routes: tenants get 403 FORBIDDEN, the admin key gets in.
	operator := []struct{ method, path string }{
		{"GET", "/monitoring/"}, {"GET", "/monitoring/api/queues"}, {"GET", "/monitoring/api/redis_info"},
		{"GET", "/monitoring/api/queues/webhooks/archived_tasks"}, {"GET", "/monitoring/api/queues/webhooks/retry_tasks"},
		{"GET", "/metrics"},
	}
	mutating := []struct{ method, path string }{
		{"POST", "/monitoring/api/queues/swap:pause"},
		{"DELETE", "/monitoring/api/queues/webhooks/archived_tasks:delete_all"},
		{"DELETE", "/monitoring/api/queues/swap/pending_tasks/" + c.ID},
	}
	for _, tenant := range []*stack{alice, bob} {
		for _, r := range append(operator, mutating...) {
			for _, basicAuth := range []bool{false, true} {
				req, _ := http.NewRequest(r.method, tenant.URL+r.path, nil)
				if basicAuth {
					req.SetBasicAuth("ops", tenant.Key)
				} else {
					req.Header.Set("Authorization", "Bearer "+tenant.Key)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var fe apiError
				_ = json.NewDecoder(resp.Body).Decode(&fe)
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden || fe.Error.Code != "FORBIDDEN" {
					t.Errorf("tenant %s %s %s (basic %v): %d %q, want 403 FORBIDDEN", tenant.Key, r.method, r.path, basicAuth, resp.StatusCode, fe.Error.Code)
				}
			}
		}
	}
	for _, r := range operator {
		if resp := admin.do(t, r.method, r.path, "", nil, nil); resp.StatusCode != 200 {
			t.Errorf("admin %s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}

	// What the dashboard shows of alice's webhook task: the job and event ids, no URL
	// that opens her output, no bytes of her inputs.
	var archived struct {
		Tasks []struct {
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		} `json:"tasks"`
	}
	deadline := time.Now().Add(30 * time.Second)
	var payload string
	for payload == "" && time.Now().Before(deadline) {
		admin.do(t, "GET", "/monitoring/api/queues/webhooks/archived_tasks?page=1&page_size=100", "", nil, &archived)
		for _, tk := range archived.Tasks {
			if strings.Contains(string(tk.Payload), c.ID) {
				payload = string(tk.Payload)
			}
		}
		if payload == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if payload == "" {
		t.Fatalf("alice's webhook task is not in the archive: %+v", archived)
	}
	for _, leak := range []string{"X-Amz-", st.env["SWAPD_S3_ENDPOINT"], b64(face)[:64], b64(target)[:64]} {
		if strings.Contains(payload, leak) {
			t.Errorf("the dashboard's task payload contains %q: %.400s", leak, payload)
		}
	}

	// Deleting alice's job removes her upload with it (hers alone).
	bobUpload := bob.upload(t, face)
	if resp := alice.do(t, "DELETE", "/v1/jobs/"+c.ID, "", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("alice delete: %d", resp.StatusCode)
	}
	if _, err := alice.store(t).Stat(context.Background(), aliceUpload); err == nil {
		t.Error("alice's upload survived the deletion of her job")
	}
	if _, err := alice.store(t).Stat(context.Background(), bobUpload); err != nil {
		t.Errorf("bob's upload went with alice's job: %v", err)
	}
}

// upload puts data through a presigned PUT from /v1/uploads, as s's key, and returns
// the upload key.
func (s *stack) upload(t *testing.T, data []byte) string {
	t.Helper()
	var up struct{ Key, URL, Method string }
	if resp := s.postJSON(t, "/v1/uploads", map[string]any{}, &up); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	return up.Key
}
