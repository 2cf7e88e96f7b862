package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/webhook"
)

// receiver starts a webhook receiver reachable by name ("localhost"), which the test
// stack allows, while the literal 127.0.0.1 stays blocked.
func receiver(t *testing.T, statuses ...int) (*testenv.Receiver, string) {
	r := testenv.NewReceiver(t, statuses...)
	return r, strings.Replace(r.URL, "127.0.0.1", "localhost", 1)
}

type created struct {
	ID     string      `json:"id"`
	Status jobs.Status `json:"status"`
}

// upload puts data through a presigned PUT from /v1/uploads and returns the key.
func upload(t *testing.T, data []byte) string { t.Helper(); return st.upload(t, data) }

// waitWebhook waits for n requests and checks each one's Standard Webhooks signature.
func waitWebhook(t *testing.T, r *testenv.Receiver, n int) []testenv.ReceivedRequest {
	t.Helper()
	return st.waitWebhook(t, r, n)
}

// waitWebhook waits for n requests signed with s's secret.
func (s *stack) waitWebhook(t *testing.T, r *testenv.Receiver, n int) []testenv.ReceivedRequest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reqs, err := r.Wait(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d webhook requests: %v (got %d)", n, err, len(r.Requests()))
	}
	for _, q := range reqs {
		if err := webhook.Verify(s.Secret, q.Header, q.Body, webhook.DefaultTolerance, time.Now()); err != nil {
			t.Fatalf("webhook signature does not verify: %v", err)
		}
	}
	return reqs
}

type event struct {
	Type string   `json:"type"`
	Data jobs.Job `json:"data"`
}

func decodeEvent(t *testing.T, b []byte) event {
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("webhook body %s: %v", b, err)
	}
	return e
}

// checkSwapped compares the output with the target: the face region changed, the
// background (far from any face) did not change at all.
func checkSwapped(t *testing.T, target, output image.Image, face image.Rectangle) {
	t.Helper()
	if output.Bounds() != target.Bounds() {
		t.Fatalf("output is %v, target %v", output.Bounds(), target.Bounds())
	}
	diff := func(r image.Rectangle) (mean float64, max int) {
		var sum, n float64
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				a1, a2, a3, _ := target.At(x, y).RGBA()
				b1, b2, b3, _ := output.At(x, y).RGBA()
				for _, d := range []int{int(a1>>8) - int(b1>>8), int(a2>>8) - int(b2>>8), int(a3>>8) - int(b3>>8)} {
					if d < 0 {
						d = -d
					}
					sum += float64(d)
					n++
					if d > max {
						max = d
					}
				}
			}
		}
		return sum / n, max
	}
	if m, _ := diff(face); m < 20 {
		t.Errorf("face region %v barely changed (mean abs diff %.1f)", face, m)
	}
	b := target.Bounds()
	for _, corner := range []image.Rectangle{
		image.Rect(0, 0, 60, 60), image.Rect(b.Dx()-60, 0, b.Dx(), 60),
		image.Rect(0, b.Dy()-60, 60, b.Dy()), image.Rect(b.Dx()-60, b.Dy()-60, b.Dx(), b.Dy()),
	} {
		if _, max := diff(corner); max != 0 {
			t.Errorf("background %v changed (max diff %d)", corner, max)
		}
	}
}

func fetchOutput(t *testing.T, j *jobs.Job) []byte {
	t.Helper()
	if j.Output == nil || j.Output.URL == "" {
		t.Fatalf("succeeded job has no output URL: %+v", j)
	}
	resp, err := http.Get(j.Output.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || int64(len(b)) != j.Output.Size {
		t.Fatalf("output GET: %d, %d bytes (record says %d)", resp.StatusCode, len(b), j.Output.Size)
	}
	return b
}

// graceFace is the face of grace_hopper.jpg, well inside the swapped region.
var graceFace = image.Rect(200, 150, 320, 300)

func TestSwapJSON(t *testing.T) {
	rec, hook := receiver(t)
	target := readFile(t, "faces/grace_hopper.jpg")
	key := upload(t, readFile(t, "faces/astronaut.png"))
	var c created
	resp := st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  []any{map[string]string{"key": key}},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(target)},
		"options": map[string]any{"output_format": "png"},
		"webhook": map[string]string{"url": hook + "/hook"},
	}, &c)
	if resp.StatusCode != http.StatusAccepted || c.Status != jobs.Queued || c.ID == "" {
		t.Fatalf("submit: %d %+v", resp.StatusCode, c)
	}
	reqs := waitWebhook(t, rec, 1)
	ev := decodeEvent(t, reqs[0].Body)
	if ev.Type != "job.succeeded" || ev.Data.ID != c.ID || ev.Data.Status != jobs.Succeeded {
		t.Fatalf("event %+v", ev)
	}
	j := st.get(t, c.ID)
	if j.Status != jobs.Succeeded || j.Attempts != 1 || j.Output.ContentType != "image/png" || j.Output.Faces != 1 ||
		j.Progress.Done != j.Progress.Total || j.StartedAt == nil || j.FinishedAt == nil {
		t.Fatalf("job %+v", j)
	}
	for _, stage := range []string{"fetch", "decode", "detect", "embed", "swap", "paste", "encode", "upload"} {
		if _, ok := j.Stages[stage]; !ok {
			t.Errorf("stage %q missing from %v", stage, j.Stages)
		}
	}
	checkSwapped(t, decodeImage(t, target), decodeImage(t, fetchOutput(t, j)), graceFace)

	// The output endpoint redirects to the same object.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", st.URL+"/v1/jobs/"+c.ID+"/output", nil)
	req.Header.Set("Authorization", "Bearer "+st.Key)
	r2, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound || !strings.Contains(r2.Header.Get("Location"), "/jobs/"+c.ID+"/output.png") {
		t.Fatalf("output redirect: %d %q", r2.StatusCode, r2.Header.Get("Location"))
	}

	// Exactly one delivery: give a duplicate a moment to show up.
	time.Sleep(500 * time.Millisecond)
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("webhook received %d times, want 1", n)
	}
}

func multipartBody(t *testing.T, parts [][2]string, files map[string][][]byte) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, name := range []string{"source", "target"} {
		for i, data := range files[name] {
			fw, err := w.CreateFormFile(name, name+string(rune('a'+i))+".jpg")
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(data)
		}
	}
	for _, p := range parts {
		w.WriteField(p[0], p[1])
	}
	w.Close()
	return w.FormDataContentType(), &buf
}

func TestSwapMultipart(t *testing.T) {
	rec, hook := receiver(t)
	target := readFile(t, "faces/grace_hopper.jpg")
	ct, body := multipartBody(t, [][2]string{{"options", `{"output_format":"png","face_selector":"many"}`}, {"webhook_url", hook}},
		map[string][][]byte{"source": {readFile(t, "faces/astronaut.png"), readFile(t, "faces/pexels_4195444.jpg")}, "target": {target}})
	var c created
	if resp := st.do(t, "POST", "/v1/jobs", ct, body, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	reqs := waitWebhook(t, rec, 1)
	if ev := decodeEvent(t, reqs[0].Body); ev.Type != "job.succeeded" {
		t.Fatalf("event %+v", ev)
	}
	j := st.get(t, c.ID)
	if len(j.Sources) != 2 || j.Options.FaceSelector != "many" {
		t.Fatalf("job %+v", j)
	}
	checkSwapped(t, decodeImage(t, target), decodeImage(t, fetchOutput(t, j)), graceFace)
}

func TestSourceDecidesTheFace(t *testing.T) {
	target := readFile(t, "faces/grace_hopper.jpg")
	run := func(source string) image.Image {
		var c created
		st.postJSON(t, "/v1/jobs", map[string]any{
			"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, source))},
			"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(target)},
			"options": map[string]any{"output_format": "png"},
		}, &c)
		return decodeImage(t, fetchOutput(t, st.waitStatus(t, c.ID, jobs.Succeeded)))
	}
	a, b := run("faces/astronaut.png"), run("faces/pexels_5709614.jpg")
	if d := meanDiffRGB(a, b, graceFace); d < 2 {
		t.Fatalf("two different sources gave the same face (mean diff %.2f)", d)
	}
}

func TestNoFaceInSource(t *testing.T) {
	rec, hook := receiver(t)
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(grayPNG(t, 300, 300))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
		"webhook": map[string]string{"url": hook},
	}, &c)
	j := st.waitStatus(t, c.ID, jobs.Failed)
	if j.Error == nil || j.Error.Code != "NO_FACE_IN_SOURCE" || j.Attempts != 1 || j.Output != nil {
		t.Fatalf("job %+v error %+v", j, j.Error)
	}
	reqs := waitWebhook(t, rec, 1)
	if ev := decodeEvent(t, reqs[0].Body); ev.Type != "job.failed" || ev.Data.Error.Code != "NO_FACE_IN_SOURCE" {
		t.Fatalf("event %+v", ev)
	}
}

func TestWebhookRetriedWithoutRerunningJob(t *testing.T) {
	rec, hook := receiver(t, 500, 500, 200)
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
		"webhook": map[string]string{"url": hook},
	}, &c)
	reqs := waitWebhook(t, rec, 3)
	time.Sleep(time.Second) // a fourth delivery would arrive within the 300 ms schedule
	reqs = rec.Requests()
	ok := 0
	for _, q := range reqs {
		if q.Status/100 == 2 {
			ok++
		}
		if id := q.Header.Get("webhook-id"); id != reqs[0].Header.Get("webhook-id") || id == "" {
			t.Fatalf("webhook-id changed across retries: %q vs %q", id, reqs[0].Header.Get("webhook-id"))
		}
	}
	if len(reqs) != 3 || ok != 1 {
		t.Fatalf("%d deliveries, %d successful; want 3 and 1", len(reqs), ok)
	}
	j := st.get(t, c.ID)
	if j.Attempts != 1 || j.Status != jobs.Succeeded || j.Webhook == nil || j.Webhook.Status != "delivered" {
		t.Fatalf("job %+v webhook %+v", j, j.Webhook)
	}
}

func TestEnhancerAndMouthMask(t *testing.T) {
	target := readFile(t, "faces/grace_hopper.jpg")
	run := func(opts map[string]any) *jobs.Job {
		opts["output_format"] = "png"
		var c created
		st.postJSON(t, "/v1/jobs", map[string]any{
			"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
			"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(target)},
			"options": opts,
		}, &c)
		return st.waitStatus(t, c.ID, jobs.Succeeded)
	}
	plain := decodeImage(t, fetchOutput(t, run(map[string]any{})))
	enhancedJob := run(map[string]any{"enhancer": "gfpgan_1.4", "enhancer_blend": 100})
	if _, ok := enhancedJob.Stages["enhance"]; !ok {
		t.Fatalf("no enhance stage: %v", enhancedJob.Stages)
	}
	enhanced := decodeImage(t, fetchOutput(t, enhancedJob))
	mouth := decodeImage(t, fetchOutput(t, run(map[string]any{"mouth_mask": true})))
	orig := decodeImage(t, target)
	diff := meanDiffRGB
	if d := diff(plain, enhanced, graceFace); d < 1 {
		t.Errorf("the enhancer changed the face by only %.2f", d)
	}
	if d := diff(plain, enhanced, image.Rect(0, 0, 60, 60)); d != 0 {
		t.Errorf("the enhancer touched the background (%.2f)", d)
	}
	// Mouth mask: the mouth keeps the target's pixels while the eyes still change.
	mouthBox := image.Rect(245, 265, 275, 280)
	eyes := image.Rect(220, 185, 300, 205)
	if d := diff(mouth, orig, mouthBox); d > 3 {
		t.Errorf("mouth region changed by %.2f with mouth_mask", d)
	}
	if d := diff(plain, orig, mouthBox); d < 20 {
		t.Errorf("without mouth_mask the mouth should change (%.2f)", d)
	}
	if d := diff(mouth, orig, eyes); d < 20 {
		t.Errorf("with mouth_mask the rest of the face should still change (%.2f)", d)
	}
}

// A source seen before comes from the embedding cache: no decode, detection or
// recognition for it the second time.
func TestRepeatedSourceUsesEmbeddingCache(t *testing.T) {
	source := base64.StdEncoding.EncodeToString(readFile(t, "faces/pexels_6567248.jpg")) // used by no other test
	target := base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))
	run := func() *jobs.Job {
		var c created
		st.postJSON(t, "/v1/jobs", map[string]any{"source": map[string]string{"base64": source}, "target": map[string]string{"base64": target}}, &c)
		return st.waitStatus(t, c.ID, jobs.Succeeded)
	}
	first, second := run(), run()
	if first.Stages["embed"] <= 0 {
		t.Fatalf("first job did not embed its source: %v", first.Stages)
	}
	if second.Stages["embed"] != 0 {
		t.Fatalf("second job embedded again (%v s) instead of using the cache", second.Stages["embed"])
	}
}

// An enhancer no worker offers is refused at submit (the worker publishes its
// enhancers), before anything is stored or queued.
func TestMissingEnhancerRefusedAtSubmit(t *testing.T) {
	var e apiError
	resp := st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
		"options": map[string]any{"enhancer": "gpen_bfr_512"}, // not installed on the test worker
	}, &e)
	if resp.StatusCode != http.StatusBadRequest || e.Error.Code != "UNSUPPORTED_OPTION" || !strings.Contains(e.Error.Message, "gpen_bfr_512") {
		t.Fatalf("status %d error %+v", resp.StatusCode, e.Error)
	}
}
