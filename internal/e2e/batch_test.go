package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	xdraw "golang.org/x/image/draw"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/webhook"
)

// batchView is GET /v1/batches/{id} as the test reads it.
type batchView struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	Total       int              `json:"total"`
	Ended       int              `json:"ended"`
	Counts      jobs.BatchCounts `json:"counts"`
	CompletedAt *time.Time       `json:"completed_at"`
	Items       []*jobs.Job      `json:"items"`
	Next        string           `json:"next_cursor"`
}

type batchCreated struct {
	ID     string   `json:"id"`
	Status string   `json:"status"`
	Total  int      `json:"total"`
	Items  []string `json:"items"`
}

// scaledJPEG decodes a face fixture and re-encodes it at width w: small targets keep
// a batch of 50 quick on the stack's one CPU worker.
func scaledJPEG(t *testing.T, rel string, w int) []byte {
	t.Helper()
	src := decodeImage(t, readFile(t, rel))
	b := src.Bounds()
	h := b.Dy() * w / b.Dx()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Rect, src, b, xdraw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 88}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func b64Input(b []byte) map[string]string { return map[string]string{"base64": b64(b)} }

// localReceiver is a webhook receiver the stack may reach (by name: SWAPD_ALLOW_PRIVATE).
func localReceiver(t *testing.T) (*testenv.Receiver, string) {
	rec := testenv.NewReceiver(t)
	return rec, strings.Replace(rec.URL, "127.0.0.1", "localhost", 1) + "/hook"
}

func (s *stack) batch(t *testing.T, id string) *batchView {
	t.Helper()
	var v batchView
	if resp := s.do(t, http.MethodGet, "/v1/batches/"+id+"?limit=100", "", nil, &v); resp.StatusCode != 200 {
		t.Fatalf("GET batch %s: %d", id, resp.StatusCode)
	}
	return &v
}

type hookEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// A batch of 50 image targets with one source: 48 good targets succeed, a grey PNG
// fails NO_FACE_IN_TARGET and a cut-off JPEG CORRUPT_INPUT, without failing the others;
// 50 item webhooks and exactly one batch.completed arrive; GET /v1/batches/{id} counts
// right and pages through every item; the source is embedded by exactly one item (the
// embedding cache serves the rest: their stage timings show no embed work); another
// key sees a 404; a second batch queued behind the first is canceled whole by one
// cancel, and its own batch.completed counts the cancels; delete removes a batch and
// its items.
func TestBatch(t *testing.T) {
	rec, hookURL := localReceiver(t)
	// A source no other test uses (its own bytes), so the embedding cache is cold.
	source := scaledJPEG(t, "faces/grace_hopper.jpg", 301)
	var targets []map[string]string
	fixtures := []string{"faces/flower_hat.jpg", "faces/astronaut.png", "faces/grace_hopper.jpg"}
	for i := range 48 {
		targets = append(targets, b64Input(scaledJPEG(t, fixtures[i%len(fixtures)], 200+4*(i/len(fixtures)))))
	}
	good := readFile(t, "faces/flower_hat.jpg")
	// The bad targets come last: the worker takes the first items first, so the item
	// that embeds the source is a good one, whose stage timings are recorded.
	const greyAt, corruptAt = 48, 49
	grey := b64Input(grayPNG(t, 96, 96))
	corrupt := b64Input(good[:len(good)*6/10])
	targets = append(targets[:greyAt], append([]map[string]string{grey}, targets[greyAt:]...)...)
	targets = append(targets[:corruptAt], append([]map[string]string{corrupt}, targets[corruptAt:]...)...)
	if len(targets) != 50 {
		t.Fatalf("%d targets", len(targets))
	}

	var created batchCreated
	resp := st.postJSON(t, "/v1/batches", map[string]any{
		"source": b64Input(source), "targets": targets, "webhook": map[string]string{"url": hookURL},
	}, &created)
	if resp.StatusCode != http.StatusAccepted || created.Total != 50 || len(created.Items) != 50 || created.Status != "running" {
		t.Fatalf("POST /v1/batches: %d %+v", resp.StatusCode, created)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/batches/"+created.ID {
		t.Fatalf("Location %q", loc)
	}

	// A second batch, queued behind the first's 50 items on the one worker, canceled
	// at once: every item is still queued, so every item ends canceled.
	rec2, hookURL2 := localReceiver(t)
	var second batchCreated
	if resp := st.postJSON(t, "/v1/batches", map[string]any{
		"source": []any{b64Input(source)}, "targets": targets[:5], "webhook": map[string]string{"url": hookURL2},
	}, &second); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second batch: %d", resp.StatusCode)
	}
	var canceled batchView
	if resp := st.do(t, http.MethodPost, "/v1/batches/"+second.ID+"/cancel", "", nil, &canceled); resp.StatusCode != 200 {
		t.Fatalf("cancel batch: %d", resp.StatusCode)
	}
	if canceled.Counts != (jobs.BatchCounts{Canceled: 5}) || canceled.Status != "completed" || canceled.Ended != 5 || canceled.CompletedAt == nil {
		t.Fatalf("canceled batch: %+v", canceled)
	}
	for _, id := range second.Items {
		if j := st.get(t, id); j.Status != jobs.Canceled {
			t.Fatalf("item %s of the canceled batch is %s", id, j.Status)
		}
	}

	// Another key: every batch route is a 404, as for a batch that does not exist.
	other := *st
	other.Key = "sk_test_other"
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/batches/" + created.ID},
		{http.MethodPost, "/v1/batches/" + created.ID + "/cancel"},
		{http.MethodDelete, "/v1/batches/" + created.ID},
	} {
		var e apiError
		if resp := other.do(t, r.method, r.path, "", nil, &e); resp.StatusCode != http.StatusNotFound || e.Error.Code != "NOT_FOUND" {
			t.Fatalf("other key %s %s: %d %+v", r.method, r.path, resp.StatusCode, e)
		}
	}

	// Every item ends; the items are ordinary jobs of the key.
	byID := map[string]*jobs.Job{}
	for _, id := range created.Items {
		byID[id] = st.waitStatus(t, id, jobs.Succeeded, jobs.Failed)
	}
	for i, id := range created.Items {
		j := byID[id]
		switch i {
		case greyAt:
			if j.Status != jobs.Failed || j.Error == nil || j.Error.Code != "NO_FACE_IN_TARGET" {
				t.Errorf("grey target item %s: %s %+v", id, j.Status, j.Error)
			}
		case corruptAt:
			if j.Status != jobs.Failed || j.Error == nil || j.Error.Code != "CORRUPT_INPUT" {
				t.Errorf("corrupt target item %s: %s %+v", id, j.Status, j.Error)
			}
		default:
			if j.Status != jobs.Succeeded || j.Output == nil || j.Output.Faces < 1 {
				t.Errorf("item %d (%s): %s %+v %+v", i, id, j.Status, j.Error, j.Output)
			}
		}
	}

	// The identity is computed once: one item embeds the source (the first to hold
	// the worker's slot), every other succeeded item takes it from the cache and
	// reports no embed work, while its other stages ran.
	embedded, swapped := 0, 0
	for _, j := range byID {
		if j.Status != jobs.Succeeded {
			continue
		}
		if j.Stages["embed"] > 0 {
			embedded++
		}
		if j.Stages["swap"] > 0 {
			swapped++
		}
	}
	if embedded != 1 || swapped != 48 {
		t.Errorf("%d succeeded items embedded the source (want 1), %d report swap work (want 48)", embedded, swapped)
	}
	// Every item has the batch's one source object.
	src := byID[created.Items[0]].Sources
	for _, j := range byID {
		if len(j.Sources) != 1 || j.Sources[0].Key != src[0].Key || !strings.Contains(src[0].Key, created.ID) {
			t.Fatalf("item %s sources %+v, want the batch's one source %+v", j.ID, j.Sources, src)
		}
	}

	// Counts and paging.
	v := st.batch(t, created.ID)
	if v.Status != "completed" || v.Total != 50 || v.Ended != 50 || v.Counts != (jobs.BatchCounts{Succeeded: 48, Failed: 2}) || v.CompletedAt == nil {
		t.Fatalf("batch %+v", v)
	}
	var paged []string
	cursor := ""
	for range 10 {
		var p batchView
		if resp := st.do(t, http.MethodGet, "/v1/batches/"+created.ID+"?limit=7&cursor="+cursor, "", nil, &p); resp.StatusCode != 200 {
			t.Fatalf("page: %d", resp.StatusCode)
		}
		for _, j := range p.Items {
			paged = append(paged, j.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(created.Items) {
		t.Fatalf("pages gave %d items %v, want the %d in target order", len(paged), paged, len(created.Items))
	}

	// Webhooks: 50 item events with 50 webhook-ids and one batch.completed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := rec.Wait(ctx, 51); err != nil {
		t.Fatal(err)
	}
	// A duplicate batch event, if there were one, would be enqueued when the last item
	// ended, like the first; give the webhook queue a moment to send it.
	time.Sleep(2 * time.Second)
	itemHooks, batchHooks := map[string]int{}, map[string]int{}
	var batchData struct {
		ID     string           `json:"id"`
		Total  int              `json:"total"`
		Counts jobs.BatchCounts `json:"counts"`
	}
	for _, r := range rec.Requests() {
		var ev hookEvent
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("webhook body %s: %v", r.Body, err)
		}
		if err := webhook.Verify(st.Secret, r.Header, r.Body, webhook.DefaultTolerance, time.Now()); err != nil {
			t.Errorf("webhook %s: signature: %v", r.Header.Get("webhook-id"), err)
		}
		switch ev.Type {
		case "batch.completed":
			batchHooks[r.Header.Get("webhook-id")]++
			if err := json.Unmarshal(ev.Data, &batchData); err != nil {
				t.Fatal(err)
			}
		case "job.succeeded", "job.failed":
			var j jobs.Job
			_ = json.Unmarshal(ev.Data, &j)
			if byID[j.ID] == nil || string(byID[j.ID].Status) != strings.TrimPrefix(ev.Type, "job.") {
				t.Errorf("item webhook %s for job %s (%v)", ev.Type, j.ID, byID[j.ID] != nil)
			}
			itemHooks[r.Header.Get("webhook-id")]++
		default:
			t.Errorf("unexpected webhook %s", ev.Type)
		}
	}
	if len(itemHooks) != 50 || len(batchHooks) != 1 {
		t.Fatalf("%d item webhook-ids, %d batch.completed webhook-ids; want 50 and 1", len(itemHooks), len(batchHooks))
	}
	for id, n := range batchHooks {
		if n != 1 {
			t.Errorf("batch.completed %s delivered %d times", id, n)
		}
	}
	if batchData.ID != created.ID || batchData.Total != 50 || batchData.Counts != (jobs.BatchCounts{Succeeded: 48, Failed: 2}) {
		t.Errorf("batch.completed data %+v", batchData)
	}

	// The canceled batch: 5 job.canceled events and its own batch.completed.
	reqs2, err := rec2.Wait(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, r := range reqs2 {
		var ev hookEvent
		_ = json.Unmarshal(r.Body, &ev)
		types[ev.Type]++
		if ev.Type == "batch.completed" {
			_ = json.Unmarshal(ev.Data, &batchData)
			if batchData.ID != second.ID || batchData.Counts != (jobs.BatchCounts{Canceled: 5}) {
				t.Errorf("canceled batch's batch.completed %+v", batchData)
			}
		}
	}
	if types["job.canceled"] != 5 || types["batch.completed"] != 1 {
		t.Errorf("canceled batch's webhooks by type: %v", types)
	}

	// A batch whose end was never announced (as if the last item's worker died before
	// its Notify) is announced when it is next shown: same webhook-id as the first.
	opt, err := redis.ParseURL(st.env["SWAPD_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.HDel(ctx, "swapd:batch:"+second.ID, "completed_at").Err(); err != nil {
		t.Fatal(err)
	}
	// ... and its delivery never happened: without this, the event's delivered mark
	// (pkg/jobs/claim.go) rightly stops a second delivery of the same webhook-id.
	for _, r := range reqs2 {
		var ev hookEvent
		_ = json.Unmarshal(r.Body, &ev)
		if ev.Type == "batch.completed" {
			if err := rdb.Del(ctx, "swapd:hook:"+r.Header.Get("webhook-id")).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v := st.batch(t, second.ID); v.CompletedAt == nil || v.Status != "completed" {
		t.Fatalf("batch with every item ended, shown again: %+v", v)
	}
	reqs2, err = rec2.Wait(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	ids2 := map[string]bool{}
	for _, r := range reqs2 {
		var ev hookEvent
		_ = json.Unmarshal(r.Body, &ev)
		if ev.Type == "batch.completed" {
			ids2[r.Header.Get("webhook-id")] = true
		}
	}
	if len(ids2) != 1 || len(reqs2) != 7 {
		t.Errorf("re-announced batch.completed: %d requests, webhook-ids %v; want 7 and one id", len(reqs2), ids2)
	}

	// Delete: the batch and its items are gone.
	if resp := st.do(t, http.MethodDelete, "/v1/batches/"+second.ID, "", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete batch: %d", resp.StatusCode)
	}
	if resp := st.do(t, http.MethodGet, "/v1/batches/"+second.ID, "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET deleted batch: %d", resp.StatusCode)
	}
	if resp := st.do(t, http.MethodGet, "/v1/jobs/"+second.Items[0], "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET item of a deleted batch: %d", resp.StatusCode)
	}
}

// Refusals: no targets, more than SWAPD_MAX_BATCH, a target the API can judge bad
// (the batch is refused whole, naming the target), and an unknown field.
func TestBatchRefused(t *testing.T) {
	face := b64Input(readFile(t, "faces/flower_hat.jpg"))
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"no targets", map[string]any{"source": face, "targets": []any{}}, 400, "INVALID_REQUEST"},
		{"no source", map[string]any{"targets": []any{face}}, 400, "INVALID_REQUEST"},
		{"too many", map[string]any{"source": face, "targets": make([]map[string]string, 1001)}, 400, "INVALID_REQUEST"},
		{"bad target", map[string]any{"source": face, "targets": []any{face, map[string]string{"base64": "aGVsbG8gd29ybGQ="}}}, 415, "UNSUPPORTED_MEDIA"},
		{"unknown field", map[string]any{"source": face, "targets": []any{face}, "extra": 1}, 400, "INVALID_REQUEST"},
	} {
		var e apiError
		resp := st.postJSON(t, "/v1/batches", c.body, &e)
		if resp.StatusCode != c.status || e.Error.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, resp.StatusCode, e, c.status, c.code)
		}
		if c.name == "bad target" && !strings.Contains(e.Error.Message, "targets[1]") {
			t.Errorf("bad target: message %q does not name targets[1]", e.Error.Message)
		}
	}
}
