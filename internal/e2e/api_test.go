package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// as returns a copy of the stack client that authenticates with another key.
func as(key string) *stack {
	c := *st
	c.Key = key
	return &c
}

func probe(t *testing.T, s *stack, hook string) string {
	t.Helper()
	body := map[string]any{"kind": "probe"}
	if hook != "" {
		body["webhook"] = map[string]string{"url": hook}
	}
	var c created
	if resp := s.postJSON(t, "/v1/jobs", body, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("probe submit: %d", resp.StatusCode)
	}
	return c.ID
}

func TestProbeJobTravelsTheWholePath(t *testing.T) {
	rec, hook := receiver(t)
	id := probe(t, st, hook)
	reqs := waitWebhook(t, rec, 1)
	ev := decodeEvent(t, reqs[0].Body)
	if ev.Type != "job.succeeded" || ev.Data.ID != id || ev.Data.Kind != jobs.KindProbe || ev.Data.Output != nil {
		t.Fatalf("event %+v", ev)
	}
	if _, ok := ev.Data.Stages["wait_slot"]; !ok {
		t.Fatalf("probe did not take a device slot: %v", ev.Data.Stages)
	}
}

func TestKeysSeeOnlyTheirOwnJobs(t *testing.T) {
	other := as("sk_test_other")
	id := probe(t, st, "")
	st.waitStatus(t, id, jobs.Succeeded)
	for _, path := range []string{"/v1/jobs/" + id, "/v1/jobs/" + id + "/events", "/v1/jobs/" + id + "/output"} {
		var e apiError
		if resp := other.do(t, "GET", path, "", nil, &e); resp.StatusCode != 404 || e.Error.Code != "NOT_FOUND" {
			t.Errorf("other key GET %s: %d %+v", path, resp.StatusCode, e.Error)
		}
	}
	if resp := other.do(t, "POST", "/v1/jobs/"+id+"/cancel", "", nil, nil); resp.StatusCode != 404 {
		t.Errorf("other key cancel: %d", resp.StatusCode)
	}
	if resp := other.do(t, "DELETE", "/v1/jobs/"+id, "", nil, nil); resp.StatusCode != 404 {
		t.Errorf("other key delete: %d", resp.StatusCode)
	}
	var page jobs.Page
	other.do(t, "GET", "/v1/jobs?limit=100", "", nil, &page)
	for _, j := range page.Jobs {
		if j.ID == id {
			t.Fatal("another key's job is listed")
		}
	}
	if st.get(t, id).Status != jobs.Succeeded {
		t.Fatal("the owner lost its job")
	}
}

func TestListPagination(t *testing.T) {
	// A fresh key, so only this test's jobs are listed.
	s := as("sk_test_lister")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, probe(t, s, ""))
	}
	for _, id := range ids {
		s.waitStatus(t, id, jobs.Succeeded)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		var page jobs.Page
		path := "/v1/jobs?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if resp := s.do(t, "GET", path, "", nil, &page); resp.StatusCode != 200 {
			t.Fatalf("list: %d", resp.StatusCode)
		}
		if len(page.Jobs) > 2 || pages > 5 {
			t.Fatalf("page of %d / %d pages", len(page.Jobs), pages)
		}
		for _, j := range page.Jobs {
			seen = append(seen, j.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d jobs, want 5: %v", len(seen), seen)
	}
	for i := range seen { // newest first
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order %v, want reverse of %v", seen, ids)
		}
	}
	var page jobs.Page
	s.do(t, "GET", "/v1/jobs?status=failed", "", nil, &page)
	if len(page.Jobs) != 0 {
		t.Fatalf("status filter: %d failed jobs listed", len(page.Jobs))
	}
	s.do(t, "GET", "/v1/jobs?status=succeeded&limit=100", "", nil, &page)
	if len(page.Jobs) != 5 {
		t.Fatalf("status filter: %d succeeded jobs listed", len(page.Jobs))
	}
	var e apiError
	if resp := s.do(t, "GET", "/v1/jobs?status=bogus", "", nil, &e); resp.StatusCode != 400 {
		t.Fatalf("bad status filter: %d", resp.StatusCode)
	}
}

func TestIdempotencyKey(t *testing.T) {
	face := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	body := func(fmt string) []byte {
		b, _ := json.Marshal(map[string]any{"source": map[string]string{"base64": face}, "target": map[string]string{"base64": face},
			"options": map[string]any{"output_format": fmt}})
		return b
	}
	send := func(key string, b []byte, out any) *http.Response {
		req, _ := http.NewRequest("POST", st.URL+"/v1/jobs", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+st.Key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp
	}
	key := fmt.Sprintf("idem-%d", len(face))
	var a, b created
	if resp := send(key, body("png"), &a); resp.StatusCode != 202 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := send(key, body("png"), &b)
	if resp.StatusCode != 202 || b.ID != a.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s vs %s", resp.StatusCode, b.ID, a.ID)
	}
	var e apiError
	if resp := send(key, body("jpeg"), &e); resp.StatusCode != 422 || e.Error.Code != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, other body: %d %+v", resp.StatusCode, e.Error)
	}
	// Another key (of another API key) is independent.
	var c created
	send(key+"-b", body("png"), &c)
	if c.ID == "" || c.ID == a.ID {
		t.Fatalf("a new idempotency key reused job %s", c.ID)
	}
	// Multipart repeats are recognised by content, not by the random boundary.
	ct1, m1 := multipartBody(t, nil, map[string][][]byte{"source": {readFile(t, "faces/astronaut.png")}, "target": {readFile(t, "faces/grace_hopper.jpg")}})
	ct2, m2 := multipartBody(t, nil, map[string][][]byte{"source": {readFile(t, "faces/astronaut.png")}, "target": {readFile(t, "faces/grace_hopper.jpg")}})
	var m, n created
	for i, p := range []struct {
		ct  string
		b   *bytes.Buffer
		out *created
	}{{ct1, m1, &m}, {ct2, m2, &n}} {
		req, _ := http.NewRequest("POST", st.URL+"/v1/jobs", p.b)
		req.Header.Set("Authorization", "Bearer "+st.Key)
		req.Header.Set("Content-Type", p.ct)
		req.Header.Set("Idempotency-Key", key+"-multipart")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("multipart %d: %v %v", i, err, resp.StatusCode)
		}
		json.NewDecoder(resp.Body).Decode(p.out)
		resp.Body.Close()
	}
	if m.ID == "" || m.ID != n.ID {
		t.Fatalf("multipart repeat made a second job: %s %s", m.ID, n.ID)
	}
}

func TestEventsStreamInOrder(t *testing.T) {
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
	}, &c)
	req, _ := http.NewRequest("GET", st.URL+"/v1/jobs/"+c.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+st.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var events []jobs.Job
	var names []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() { // the server closes the stream after the terminal event
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, v)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			var j jobs.Job
			if err := json.Unmarshal([]byte(v), &j); err != nil {
				t.Fatal(err)
			}
			events = append(events, j)
		}
	}
	if len(events) < 2 {
		t.Fatalf("only %d events", len(events))
	}
	rank := map[jobs.Status]int{jobs.Queued: 0, jobs.Running: 1, jobs.Succeeded: 2}
	for i := 1; i < len(events); i++ {
		a, b := events[i-1], events[i]
		if rank[b.Status] < rank[a.Status] || (a.Status == b.Status && b.Progress.Done < a.Progress.Done) {
			t.Fatalf("event %d (%s %v) after (%s %v)", i, b.Status, b.Progress, a.Status, a.Progress)
		}
	}
	last := events[len(events)-1]
	if last.Status != jobs.Succeeded || names[len(names)-1] != "done" || last.Output == nil {
		t.Fatalf("last event %s %q", last.Status, names[len(names)-1])
	}
	for _, n := range names[:len(names)-1] {
		if n != "progress" {
			t.Fatalf("event names %v", names)
		}
	}
}

func TestMetricsAndRequestIDs(t *testing.T) {
	st.waitStatus(t, probe(t, st, ""), jobs.Succeeded)
	req, _ := http.NewRequest("GET", st.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+st.Admin)
	req.Header.Set("X-Request-Id", "trace-me-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-me-123" {
		t.Fatalf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	body := buf.String()
	for _, want := range []string{
		`swapd_jobs_submitted_total{kind="probe"}`,
		`swapd_http_requests_total{method="POST",route="POST /v1/jobs",status="202"}`,
		`swapd_http_request_duration_seconds_bucket{method="GET",route="GET /v1/jobs/{id}"`,
		`asynq_queue_size{queue="` + tasks.QueueSwap + `"}`, // where a key's first jobs wait
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp, _ := http.Get(st.URL + "/metrics"); resp.StatusCode != 401 {
		t.Errorf("unauthenticated /metrics: %d", resp.StatusCode)
	}
}

func TestWorkerMetrics(t *testing.T) {
	st.waitStatus(t, probe(t, st, ""), jobs.Succeeded)
	url := "http://" + st.env["SWAPD_METRICS_ADDR"] + "/metrics"
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 401 {
		t.Fatalf("worker metrics without a key: %v %v", err, resp)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+st.Key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("worker metrics with a tenant key: %v %v", err, resp)
	}
	req.Header.Set("Authorization", "Bearer "+st.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for _, want := range []string{`swapd_device_slots{device="cpu:0"} 1`, `swapd_jobs_finished_total{code="",kind="probe",status="succeeded"}`, `swapd_device_slots_in_use{device="cpu:0"} 0`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("worker /metrics lacks %s", want)
		}
	}
}
