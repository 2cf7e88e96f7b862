package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// Analyze jobs and mapped swaps (issue #10) on the real stack: real models, Redis,
// MinIO and workers.

// waitLong is waitStatus with room for a video on CPU workers.
func (s *stack) waitLong(t *testing.T, id string, want jobs.Status) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(8 * time.Minute)
	for time.Now().Before(deadline) {
		j := s.get(t, id)
		if j.Status == want {
			return j
		}
		if j.Status.Terminal() {
			t.Fatalf("job %s ended %s (error %+v), want %s", id, j.Status, j.Error, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("job %s not %s after 8 min", id, want)
	return nil
}

// analyze submits an analyze job of target (bytes, as base64) and returns its id.
func analyze(t *testing.T, s *stack, target []byte, opts map[string]any, hook string) string {
	t.Helper()
	body := map[string]any{"kind": "analyze", "target": map[string]string{"base64": base64.StdEncoding.EncodeToString(target)}}
	if opts != nil {
		body["options"] = opts
	}
	if hook != "" {
		body["webhook"] = map[string]string{"url": hook}
	}
	var c created
	if resp := s.postJSON(t, "/v1/jobs", body, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("analyze submit: %d %s", resp.StatusCode, bodyOf(resp))
	}
	return c.ID
}

// fetchJPEG GETs a presigned thumbnail URL and decodes it as a JPEG.
func fetchJPEG(t *testing.T, th jobs.Thumbnail) image.Image {
	t.Helper()
	if th.URL == "" || th.Key == "" {
		t.Fatalf("thumbnail without a key or URL: %+v", th)
	}
	resp, err := http.Get(th.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("thumbnail GET: %d", resp.StatusCode)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("thumbnail %s is not a JPEG: %v", th.Key, err)
	}
	if img.Bounds().Dx() != th.Width || img.Bounds().Dy() != th.Height || max(th.Width, th.Height) > 512 {
		t.Fatalf("thumbnail %s is %v, the record says %dx%d", th.Key, img.Bounds(), th.Width, th.Height)
	}
	return img
}

// embeddingsOf reads the job with ?include=embeddings and returns each identity's
// embedding, decoded.
func embeddingsOf(t *testing.T, id string) map[string][]float32 {
	t.Helper()
	var j jobs.Job
	if resp := st.do(t, http.MethodGet, "/v1/jobs/"+id+"?include=embeddings", "", nil, &j); resp.StatusCode != 200 {
		t.Fatalf("GET include=embeddings: %d", resp.StatusCode)
	}
	out := map[string][]float32{}
	for _, p := range j.Output.Analysis.Identities {
		e, err := jobs.DecodeEmbedding(p.Embedding)
		if err != nil {
			t.Fatalf("identity %s: %v", p.ID, err)
		}
		out[p.ID] = e
	}
	return out
}

// noEmbeddingsInJSON checks that the plain GET carries no embedding.
func noEmbeddingsInJSON(t *testing.T, id string) {
	t.Helper()
	resp := st.do(t, http.MethodGet, "/v1/jobs/"+id, "", nil, nil)
	if b := bodyOf(resp); strings.Contains(b, `"embedding"`) {
		t.Errorf("GET without include carries embeddings: %.300s", b)
	}
}

// The group photo's faces, left to right (by the box's left edge), each with its
// landmarks in its box, a fetchable JPEG thumbnail and an identity of its own; the
// webhook carries the same analysis.
func TestAnalyzeImageFacesLeftToRight(t *testing.T) {
	rec, hook := receiver(t)
	group := readFile(t, "faces/group_test3.jpg")
	id := analyze(t, st, group, nil, hook)
	j := st.waitStatus(t, id, jobs.Succeeded)
	if j.Kind != jobs.KindAnalyze || j.Output == nil || j.Output.Analysis == nil {
		t.Fatalf("job %+v", j)
	}
	a := j.Output.Analysis
	if a.Media != "image" || len(a.Faces) < 3 || len(a.Identities) != len(a.Faces) || j.Output.Faces != len(a.Faces) {
		t.Fatalf("analysis of the group: media %q, %d faces, %d identities (output.faces %d)", a.Media, len(a.Faces), len(a.Identities), j.Output.Faces)
	}
	if j.Progress.Done != j.Progress.Total || j.Progress.Total == 0 {
		t.Errorf("progress %+v at the end", j.Progress)
	}
	w, h := 1024.0, 1024.0
	for i, f := range a.Faces {
		b := f.Box
		if f.Index != i || (i > 0 && b[0] < a.Faces[i-1].Box[0]) {
			t.Errorf("face %d (index %d, box %v) is out of left-to-right order", i, f.Index, b)
		}
		if b[0] < -1 || b[1] < -1 || b[2] > w+1 || b[3] > h+1 || b[2] <= b[0] || b[3] <= b[1] || f.Score <= 0 || f.Score > 1 {
			t.Errorf("face %d: box %v score %v", i, b, f.Score)
		}
		mx, my := (b[2]-b[0])*0.15, (b[3]-b[1])*0.15
		for _, p := range f.Landmarks {
			if p[0] < b[0]-mx || p[0] > b[2]+mx || p[1] < b[1]-my || p[1] > b[3]+my {
				t.Errorf("face %d: landmark %v outside its box %v", i, p, b)
			}
		}
		p := a.Identities[i]
		if f.Identity != jobs.IdentityID(i) || p.ID != f.Identity || p.Face == nil || *p.Face != i || p.Frames != 1 {
			t.Errorf("face %d: identity %q, identity record %+v", i, f.Identity, p)
		}
		fetchJPEG(t, f.Thumbnail)
		fetchJPEG(t, p.Thumbnail)
	}
	noEmbeddingsInJSON(t, id)
	embs := embeddingsOf(t, id)
	if len(embs) != len(a.Identities) || len(embs["person-1"]) != 512 {
		t.Errorf("embeddings: %d identities, person-1 has %d values", len(embs), len(embs["person-1"]))
	}

	ev := decodeEvent(t, waitWebhook(t, rec, 1)[0].Body)
	if ev.Type != "job.succeeded" || ev.Data.ID != id || ev.Data.Output == nil || ev.Data.Output.Analysis == nil ||
		len(ev.Data.Output.Analysis.Faces) != len(a.Faces) || ev.Data.Output.Analysis.Faces[0].Thumbnail.URL == "" {
		t.Fatalf("webhook event %+v", ev)
	}
	if b := string(waitWebhook(t, rec, 1)[0].Body); strings.Contains(b, `"embedding"`) {
		t.Error("the webhook body carries embeddings")
	}

	// The thumbnails and the result go with the job.
	objects := st.store(t)
	keys := []string{j.Output.Key, a.Faces[0].Thumbnail.Key, a.Identities[len(a.Identities)-1].Thumbnail.Key}
	for _, k := range keys {
		if _, err := objects.Stat(context.Background(), k); err != nil {
			t.Fatalf("%s before the delete: %v", k, err)
		}
	}
	if resp := st.do(t, http.MethodDelete, "/v1/jobs/"+id, "", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	for _, k := range keys {
		if _, err := objects.Stat(context.Background(), k); err == nil {
			t.Errorf("%s is still stored after the job was deleted", k)
		}
	}
}

// The five-people video: five identities across the video, each seen in analysed
// frames, with a fetchable thumbnail; progress counted in frames.
func TestAnalyzeVideoFivePeople(t *testing.T) {
	video := readFile(t, "video/five_people_640x480.mp4")
	id := analyze(t, st, video, map[string]any{"analyze_stride": 3}, "")
	j := st.waitLong(t, id, jobs.Succeeded)
	a := j.Output.Analysis
	if a == nil || a.Media != "video" || len(a.Faces) != 0 {
		t.Fatalf("output %+v", j.Output)
	}
	if len(a.Identities) != 5 {
		t.Fatalf("%d identities in the five-people video, want 5: %+v", len(a.Identities), a.Identities)
	}
	if a.Stride != 3 || a.Frames < 60 || a.FramesAnalysed < a.Frames/3 || a.FramesAnalysed > a.Frames/3+1 {
		t.Errorf("frames %d, analysed %d, stride %d", a.Frames, a.FramesAnalysed, a.Stride)
	}
	if j.Progress.Done != a.Frames || j.Output.Frames != a.Frames {
		t.Errorf("progress %+v, output.frames %d, analysis.frames %d", j.Progress, j.Output.Frames, a.Frames)
	}
	seen := map[string]bool{}
	for i, p := range a.Identities {
		if p.ID != jobs.IdentityID(i) || seen[p.ID] {
			t.Errorf("identity %d has id %q", i, p.ID)
		}
		seen[p.ID] = true
		// Five faces in every frame: each person is seen in most analysed frames.
		if p.FirstFrame < 0 || p.LastFrame < p.FirstFrame || p.LastFrame >= a.Frames || p.Frames < a.FramesAnalysed/2 || p.Frames > a.FramesAnalysed {
			t.Errorf("identity %s: frames %d–%d, seen in %d of %d analysed", p.ID, p.FirstFrame, p.LastFrame, p.Frames, a.FramesAnalysed)
		}
		if p.BestFrame < p.FirstFrame || p.BestFrame > p.LastFrame || p.Box[2] <= p.Box[0] || p.Box[2] > 641 || p.Box[3] > 481 {
			t.Errorf("identity %s: best face %v in frame %d", p.ID, p.Box, p.BestFrame)
		}
		fetchJPEG(t, p.Thumbnail)
	}
	noEmbeddingsInJSON(t, id)
	embs := embeddingsOf(t, id)
	// Different people: their mean embeddings are not alike.
	for i := 0; i < 5; i++ {
		for k := i + 1; k < 5; k++ {
			if c := cosine(embs[jobs.IdentityID(i)], embs[jobs.IdentityID(k)]); c > 0.7 {
				t.Errorf("identities %d and %d have cosine %.3f: one person split in two?", i, k, c)
			}
		}
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / (math.Sqrt(aa) * math.Sqrt(bb))
}

// faceRect is an analysed face's box as a rectangle, shrunk to its middle (the part
// a swap surely changes and a neighbour's paste surely does not reach).
func faceRect(b [4]float64) image.Rectangle {
	w, h := b[2]-b[0], b[3]-b[1]
	return image.Rect(int(b[0]+w*0.25), int(b[1]+h*0.25), int(b[2]-w*0.25), int(b[3]-h*0.25))
}

// mappedSwap submits a swap of target (base64) with options and returns the job.
func mappedSwap(t *testing.T, target []byte, opts map[string]any) *jobs.Job {
	t.Helper()
	var c created
	resp := st.postJSON(t, "/v1/jobs", map[string]any{"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(target)}, "options": opts}, &c)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("mapped swap submit: %d %s", resp.StatusCode, bodyOf(resp))
	}
	return st.waitLong(t, c.ID, jobs.Succeeded)
}

// A swap that maps two people of the analysed group photo to two different sources
// changes exactly those two faces; the others are left as they were.
func TestMappingByIdentityImage(t *testing.T) {
	group := readFile(t, "faces/group_test3.jpg")
	an := st.waitStatus(t, analyze(t, st, group, nil, ""), jobs.Succeeded)
	faces := an.Output.Analysis.Faces
	if len(faces) < 3 {
		t.Fatalf("the group has %d faces; the test needs 3", len(faces))
	}
	astro, grace := upload(t, readFile(t, "faces/astronaut.png")), upload(t, readFile(t, "faces/grace_hopper.jpg"))
	j := mappedSwap(t, group, map[string]any{"analysis": an.ID, "output_format": "png", "mappings": []any{
		map[string]any{"identity": faces[0].Identity, "source": []any{map[string]string{"key": astro}}},
		map[string]any{"identity": faces[2].Identity, "source": []any{map[string]string{"key": grace}}},
	}})
	if j.Output.Faces != 2 || len(j.Output.Similarity) != 2 {
		t.Fatalf("mapped swap of two people: output %+v", j.Output)
	}
	target, out := decodeImage(t, group), decodeImage(t, fetchOutput(t, j))
	for i := range faces {
		t.Logf("face %d: mean diff %.2f", i, meanDiffRGB(target, out, faceRect(faces[i].Box)))
	}
	for _, i := range []int{0, 2} {
		if d := meanDiffRGB(target, out, faceRect(faces[i].Box)); d < 4 {
			t.Errorf("mapped face %d barely changed (mean diff %.2f)", i, d)
		}
	}
	if d := meanDiffRGB(target, out, faceRect(faces[1].Box)); d > 1 {
		t.Errorf("unmapped face 1 changed (mean diff %.2f)", d)
	}

	// The same by face index, with the others blurred.
	j = mappedSwap(t, group, map[string]any{"analysis": an.ID, "output_format": "png", "unmapped": "blur", "mappings": []any{
		map[string]any{"face": 0, "source": []any{map[string]string{"key": astro}}},
	}})
	out = decodeImage(t, fetchOutput(t, j))
	if j.Output.Faces != 1 {
		t.Errorf("mapping by face: %d faces swapped, want 1", j.Output.Faces)
	}
	if d := meanDiffRGB(target, out, faceRect(faces[1].Box)); d < 2 {
		t.Errorf("unmapped face 1 with unmapped=blur is not blurred (mean diff %.2f)", d)
	}
}

// A mapping by reference needs no analysis: a crop of one person of the group picks
// that person, and only that person is swapped.
func TestMappingByReferenceImage(t *testing.T) {
	group := readFile(t, "faces/group_test3.jpg")
	an := st.waitStatus(t, analyze(t, st, group, nil, ""), jobs.Succeeded)
	faces := an.Output.Analysis.Faces
	if len(faces) < 2 {
		t.Fatalf("the group has %d faces; the test needs 2", len(faces))
	}
	target := decodeImage(t, group)
	b := faces[1].Box
	w, h := b[2]-b[0], b[3]-b[1]
	crop := image.Rect(int(b[0]-w*0.6), int(b[1]-h*0.6), int(b[2]+w*0.6), int(b[3]+h*0.6)).Intersect(target.Bounds())
	ref := image.NewRGBA(image.Rect(0, 0, crop.Dx(), crop.Dy()))
	draw.Draw(ref, ref.Bounds(), target, crop.Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, ref); err != nil {
		t.Fatal(err)
	}
	j := mappedSwap(t, group, map[string]any{"output_format": "png", "mappings": []any{
		map[string]any{"reference": map[string]string{"key": upload(t, buf.Bytes())}, "source": []any{map[string]string{"key": upload(t, readFile(t, "faces/astronaut.png"))}}},
	}})
	if j.Output.Faces != 1 {
		t.Fatalf("mapping by reference swapped %d faces, want 1", j.Output.Faces)
	}
	out := decodeImage(t, fetchOutput(t, j))
	if d := meanDiffRGB(target, out, faceRect(faces[1].Box)); d < 4 {
		t.Errorf("the reference's person barely changed (mean diff %.2f)", d)
	}
	if d := meanDiffRGB(target, out, faceRect(faces[0].Box)); d > 1 {
		t.Errorf("another person changed (mean diff %.2f)", d)
	}
}

// A video swap mapping two of the five people to two sources swaps at most two
// faces a frame (five without the mapping).
func TestMappingByIdentityVideo(t *testing.T) {
	video := readFile(t, "video/five_people_640x480.mp4")
	an := st.waitLong(t, analyze(t, st, video, map[string]any{"analyze_stride": 3}, ""), jobs.Succeeded)
	ids := an.Output.Analysis.Identities
	if len(ids) < 2 {
		t.Fatalf("%d identities", len(ids))
	}
	astro, grace := upload(t, readFile(t, "faces/astronaut.png")), upload(t, readFile(t, "faces/grace_hopper.jpg"))
	j := mappedSwap(t, video, map[string]any{"analysis": an.ID, "mappings": []any{
		map[string]any{"identity": ids[0].ID, "source": []any{map[string]string{"key": astro}}},
		map[string]any{"identity": ids[1].ID, "source": []any{map[string]string{"key": grace}}},
	}})
	o := j.Output
	if o.Frames != an.Output.Analysis.Frames || o.Faces < o.Frames || o.Faces > 2*o.Frames {
		t.Fatalf("mapped video swap: %d faces over %d frames (analysis read %d), want 1–2 a frame", o.Faces, o.Frames, an.Output.Analysis.Frames)
	}
}

// Each bad mapped swap is refused at submit with its code, before anything is
// queued; another key's analysis answers exactly like one that does not exist.
func TestMappingRefusals(t *testing.T) {
	group := readFile(t, "faces/group_test3.jpg")
	grace := readFile(t, "faces/grace_hopper.jpg")
	mine := analyze(t, st, group, nil, "")
	theirs := analyze(t, as("sk_test_other"), group, nil, "")
	st.waitStatus(t, mine, jobs.Succeeded)
	source := []any{map[string]string{"key": upload(t, readFile(t, "faces/astronaut.png"))}}

	// An analysis that failed (a video over the resolution limit) is not ready.
	big := filepath.Join(t.TempDir(), "big.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=1920x1080:d=0.2", "-c:v", "libx264", "-pix_fmt", "yuv420p", big)
	bigData := readAbs(t, big)
	failed := analyze(t, st, bigData, nil, "")
	st.waitStatus(t, failed, jobs.Failed)

	refuse := func(target []byte, opts map[string]any) refusal {
		t.Helper()
		var e refusal
		resp := st.postJSON(t, "/v1/jobs", map[string]any{"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(target)}, "options": opts}, &e)
		e.Status = resp.StatusCode
		return e
	}
	byID := func(analysis, identity string, src []any) map[string]any {
		m := map[string]any{"identity": identity}
		if src != nil {
			m["source"] = src
		}
		return map[string]any{"analysis": analysis, "mappings": []any{m}}
	}
	missing := "0190c0de-0000-7000-8000-000000000000"
	for name, c := range map[string]struct {
		target []byte
		opts   map[string]any
		status int
		code   string
	}{
		"unknown identity":      {group, byID(mine, "person-99", source), 400, "UNKNOWN_IDENTITY"},
		"analysis of a target":  {grace, byID(mine, "person-1", source), 400, "ANALYSIS_TARGET_MISMATCH"},
		"no source":             {group, byID(mine, "person-1", nil), 400, "MAPPING_WITHOUT_SOURCE"},
		"another key's":         {group, byID(theirs, "person-1", source), 400, "ANALYSIS_NOT_FOUND"},
		"missing":               {group, byID(missing, "person-1", source), 400, "ANALYSIS_NOT_FOUND"},
		"failed analysis":       {bigData, byID(failed, "person-1", source), 409, "ANALYSIS_NOT_READY"},
		"face of no such index": {group, map[string]any{"analysis": mine, "mappings": []any{map[string]any{"face": 99, "source": source}}}, 400, "UNKNOWN_IDENTITY"},
	} {
		if e := refuse(c.target, c.opts); e.Status != c.status || e.Error.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", name, e.Status, e.Error, c.status, c.code)
		}
	}
	a, b := refuse(group, byID(theirs, "person-1", source)), refuse(group, byID(missing, "person-1", source))
	if strings.ReplaceAll(a.Error.Message, theirs, "ID") != strings.ReplaceAll(b.Error.Message, missing, "ID") {
		t.Errorf("another key's analysis %q and a missing one %q answer differently", a.Error.Message, b.Error.Message)
	}
	// Refused submits leave no job behind.
	var page jobs.Page
	st.do(t, http.MethodGet, "/v1/jobs?limit=100", "", nil, &page)
	for _, j := range page.Jobs {
		if len(j.Options.Mappings) > 0 && j.Options.Analysis == theirs {
			t.Errorf("a refused mapped swap left job %s", j.ID)
		}
	}
}

func readAbs(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refusal is an error answer with its status.
type refusal struct {
	apiError
	Status int `json:"-"`
}

// A video analysis reports its progress in frames over Server-Sent Events, and a
// cancel mid-video ends it canceled, without an output; the worker then runs the
// next job.
func TestAnalyzeVideoEventsAndCancel(t *testing.T) {
	in := filepath.Join(t.TempDir(), "long.mp4")
	ffmpeg(t, "-stream_loop", "4", "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"), "-c", "copy", in)
	id := analyze(t, st, readAbs(t, in), nil, "")
	req, _ := http.NewRequest("GET", st.URL+"/v1/jobs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+st.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	var events []jobs.Job
	canceled := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() { // the server closes the stream after the terminal event
		v, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var j jobs.Job
		if err := json.Unmarshal([]byte(v), &j); err != nil {
			t.Fatal(err)
		}
		events = append(events, j)
		if !canceled && j.Status == jobs.Running && j.Progress.Done > 0 {
			// Frames, not steps: the looped video has about 450.
			if j.Progress.Total < 300 {
				t.Errorf("progress %+v: want frames of the video as the total", j.Progress)
			}
			var c jobs.Job
			if r := st.do(t, http.MethodPost, "/v1/jobs/"+id+"/cancel", "", nil, &c); r.StatusCode != 200 {
				t.Fatalf("cancel: %d", r.StatusCode)
			}
			canceled = true
		}
	}
	if !canceled {
		t.Fatalf("never saw progress in %d events", len(events))
	}
	last := events[len(events)-1]
	if last.Status != jobs.Canceled || last.Output != nil || last.Progress.Done >= last.Progress.Total {
		t.Fatalf("last event %s %+v output %+v", last.Status, last.Progress, last.Output)
	}
	st.waitStatus(t, probe(t, st, ""), jobs.Succeeded)
}
