package runpod

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
)

func wantInvalid(t *testing.T, err error, contains string) {
	t.Helper()
	e, ok := errcode.As(err)
	if !ok || e.Code != errcode.InvalidRequest {
		t.Fatalf("error %v, want INVALID_REQUEST", err)
	}
	if !strings.Contains(e.Message, contains) {
		t.Fatalf("message %q does not mention %q", e.Message, contains)
	}
}

func TestDecodeRequest(t *testing.T) {
	req, err := DecodeRequest([]byte(`{"input": {"a": 1}, "webhook": "https://example.com/h",
		"policy": {"executionTimeout": 5000, "ttl": 60000, "lowPriority": true},
		"s3Config": {"accessId": "x", "accessSecret": "y", "bucketName": "b", "endpointUrl": "https://s3"},
		"somethingElse": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(req.Input) != `{"a": 1}` || req.Webhook != "https://example.com/h" || !req.Policy.LowPriority {
		t.Fatalf("%+v", req)
	}
	if d, ok, _ := req.Policy.Timeout(); !ok || d != 5*time.Second {
		t.Fatalf("timeout %v %v", d, ok)
	}
	if d, ok, _ := req.Policy.RecordTTL(); !ok || d != time.Minute {
		t.Fatalf("ttl %v %v", d, ok)
	}
	var none *Policy
	if _, ok, err := none.Timeout(); ok || err != nil {
		t.Fatal("nil policy has a timeout")
	}

	for body, msg := range map[string]string{
		`{}`:              "input is required",
		`{"input": null}`: "input is required",
		`not json`:        "not a valid RunPod request",
		`{"input": {}, "policy": {"executionTimeout": 1000}}`: "policy.executionTimeout 1000 ms is outside",
		`{"input": {}, "policy": {"ttl": 5000}}`:              "policy.ttl 5000 ms is outside",
		`{"input": {}, "policy": {"ttl": 700000000000}}`:      "policy.ttl",
		`{"input": {}, "policy": {"ttl": "soon"}}`:            "policy.ttl must be a number",
		`{"input": {}, "s3Config": "s3://bucket"}`:            "s3Config must be an object",
		`{"input": {}, "webhook": 7}`:                         "webhook must be a string",
	} {
		_, err := DecodeRequest([]byte(body))
		wantInvalid(t, err, msg)
	}
}

func parse(t *testing.T, input string) *Input {
	t.Helper()
	j, err := ParseInput(json.RawMessage(input))
	if err != nil {
		t.Fatalf("%s: %v", input, err)
	}
	return j
}

func TestFilesSchema(t *testing.T) {
	j := parse(t, `{"process_type": "single_image", "source_file": "https://example.com/s.jpg",
		"target_file": "data:image/png;base64,iVBORw0KGgo=", "options": {"mouth_mask": true, "use_face_enhancer": "true", "other": 1}, "extra": [1]}`)
	want := &Input{Via: ViaFiles, Kind: jobs.KindImage, Source: &File{URL: "https://example.com/s.jpg"},
		Target: &File{Base64: "data:image/png;base64,iVBORw0KGgo="}, Options: jobs.Options{MouthMask: true, Enhancer: "gfpgan_1.4"}}
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("got %+v\nwant %+v", j, want)
	}

	j = parse(t, `{"process_type": "VIDEO", "source_file": "/9j/4AAQ\nSkZJRg==", "target_file": "https://example.com/v.mp4"}`)
	if j.Kind != jobs.KindVideo || j.Source.Base64 != "/9j/4AAQ\nSkZJRg==" || j.Target.URL == "" || j.Options.Enhancer != "" {
		t.Fatalf("%+v", j)
	}
	// No process_type: an image swap.
	if j = parse(t, `{"source_file": "https://a/s.jpg", "target_file": "https://a/t.jpg", "options": {"mouth_mask": false}}`); j.Kind != jobs.KindImage || j.Options.MouthMask {
		t.Fatalf("%+v", j)
	}
	// A probe needs no files and ignores any given.
	if j = parse(t, `{"process_type": "probe", "source_file": "x"}`); j.Kind != jobs.KindProbe || j.Source != nil || j.Target != nil {
		t.Fatalf("%+v", j)
	}

	for input, msg := range map[string]string{
		`{"process_type": "gif", "source_file": "a", "target_file": "b"}`:                       `process_type "gif"`,
		`{"process_type": "single_image", "target_file": "https://a/t.jpg"}`:                    "input.source_file is required",
		`{"process_type": "single_image", "source_file": "https://a/s.jpg", "target_file": ""}`: "input.target_file is required",
		`{"process_type": "single_image", "source_file": 5, "target_file": "x"}`:                "input.source_file must be a string",
		`{"source_file": "ftp://a/s.jpg", "target_file": "x"}`:                                  "only http and https",
		`{"source_file": "data:image/png,abc", "target_file": "x"}`:                             "without ;base64,",
		`{"source_file": "a", "target_file": "b", "options": {"mouth_mask": "maybe"}}`:          "input.options.mouth_mask",
		`{"source_file": "a", "target_file": "b", "options": [1]}`:                              "input.options must be an object",
	} {
		_, err := ParseInput(json.RawMessage(input))
		wantInvalid(t, err, msg)
	}
}

func TestInswapperSchema(t *testing.T) {
	j := parse(t, `{"source_image": "iVBORw0KGgo=", "target_image": "/9j/4AAQ",
		"source_indexes": "0,1", "target_indexes": "2, 0", "background_enhance": true, "face_restore": true,
		"face_upsample": true, "upscale": 2, "codeformer_fidelity": 0.7, "output_format": "PNG",
		"face_mask_blur": "0.5", "face_mask_padding": "1,2,3,4", "face_selector_mode": "many",
		"face_selector_order": "left-right", "min_face_size": 10, "face_swapper_model": "inswapper_128"}`)
	fid, blur := 0.7, 0.5
	want := &Input{Via: ViaInswapper, Kind: jobs.KindImage, Source: &File{Base64: "iVBORw0KGgo="}, Target: &File{Base64: "/9j/4AAQ"},
		Options: jobs.Options{SourceIndexes: []int{0, 1}, TargetIndexes: []int{2, 0}, Enhancer: "codeformer", CodeFormerWeight: &fid,
			OutputFormat: "png", MaskBlur: &blur, MaskPadding: []float64{1, 2, 3, 4}, FaceSelector: "many", FaceOrder: "left-right"}}
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("got %+v\nwant %+v", j.Options, want.Options)
	}

	// Defaults: automatic indexes, no enhancer, swapd's selection, JPEG.
	j = parse(t, `{"source_image": "a", "target_image": "b", "source_indexes": "-1", "target_indexes": -1, "output_format": "jpeg", "face_restore": false}`)
	if !reflect.DeepEqual(j.Options, jobs.Options{OutputFormat: "jpeg"}) {
		t.Fatalf("%+v", j.Options)
	}
	// Index lists as numbers and lists; one source index for many targets.
	j = parse(t, `{"source_image": "a", "target_image": "b", "source_indexes": 0, "target_indexes": [1, 2], "face_mask_padding": [5], "reference_face_position": "1", "reference_face_distance": 0.4, "face_selector_mode": "Reference"}`)
	if !reflect.DeepEqual(j.Options.SourceIndexes, []int{0}) || !reflect.DeepEqual(j.Options.TargetIndexes, []int{1, 2}) ||
		!reflect.DeepEqual(j.Options.MaskPadding, []float64{5, 5, 5, 5}) || j.Options.ReferenceFacePosition != 1 ||
		*j.Options.ReferenceDistance != 0.4 || j.Options.FaceSelector != "reference" {
		t.Fatalf("%+v", j.Options)
	}

	for input, msg := range map[string]string{
		`{"target_image": "b"}`: "input.source_image is required",
		`{"source_image": "a", "target_image": "b", "source_indexes": "0,x"}`:                            "input.source_indexes",
		`{"source_image": "a", "target_image": "b", "target_indexes": "-1,2"}`:                           "input.target_indexes",
		`{"source_image": "a", "target_image": "b", "target_indexes": "300"}`:                            "input.target_indexes",
		`{"source_image": "a", "target_image": "b", "source_indexes": "0,1", "target_indexes": "0,1,2"}`: "pair up one to one",
		`{"source_image": "a", "target_image": "b", "output_format": "WEBP"}`:                            "input.output_format",
		`{"source_image": "a", "target_image": "b", "codeformer_fidelity": 1.5}`:                         "input.codeformer_fidelity",
		`{"source_image": "a", "target_image": "b", "face_mask_blur": -1}`:                               "input.face_mask_blur",
		`{"source_image": "a", "target_image": "b", "face_mask_padding": "1,2"}`:                         "input.face_mask_padding",
		`{"source_image": "a", "target_image": "b", "face_mask_padding": "1,2,3,400"}`:                   "input.face_mask_padding",
		`{"source_image": "a", "target_image": "b", "face_selector_mode": "all"}`:                        "input.face_selector_mode",
		`{"source_image": "a", "target_image": "b", "face_selector_order": "random"}`:                    "input.face_selector_order",
		`{"source_image": "a", "target_image": "b", "upscale": 0}`:                                       "input.upscale",
		`{"source_image": "a", "target_image": "b", "face_restore": "sometimes"}`:                        "input.face_restore",
		`{"source_image": "a", "target_image": "b", "background_enhance": []}`:                           "input.background_enhance",
		`{"source_image": 1, "target_image": "b"}`:                                                       "input.source_image must be a string",
	} {
		_, err := ParseInput(json.RawMessage(input))
		wantInvalid(t, err, msg)
	}
}

func TestParseInputPicksSchema(t *testing.T) {
	for input, msg := range map[string]string{
		`"text"`:          "input must be a JSON object",
		`[1]`:             "input must be a JSON object",
		`{"prompt": "x"}`: "matches neither",
	} {
		_, err := ParseInput(json.RawMessage(input))
		wantInvalid(t, err, msg)
	}
	// source_image wins over the files fields when both appear.
	if j := parse(t, `{"source_image": "a", "target_image": "b", "process_type": "video"}`); j.Via != ViaInswapper {
		t.Fatalf("%+v", j)
	}
}

func at(base time.Time, s float64) *time.Time {
	t := base.Add(time.Duration(s * float64(time.Second)))
	return &t
}

func TestStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		job  jobs.Job
		want string
	}{
		{jobs.Job{Status: jobs.Queued}, InQueue},
		{jobs.Job{Status: jobs.Running}, InProgress},
		{jobs.Job{Status: jobs.Succeeded}, Completed},
		{jobs.Job{Status: jobs.Canceled}, Cancelled},
		{jobs.Job{Status: jobs.Failed, Error: errcode.New(errcode.NoFaceInSource, "x")}, Failed},
		// The worker records a job that ran past its execution timeout as TIMED_OUT.
		{jobs.Job{Status: jobs.Failed, Timeout: 5 * time.Second, StartedAt: at(t0, 0), FinishedAt: at(t0, 5),
			Error: errcode.New(errcode.TimedOut, "x")}, TimedOut},
		// A transient failure that happened to last as long is not a timeout.
		{jobs.Job{Status: jobs.Failed, StartedAt: at(t0, 0), FinishedAt: at(t0, 600), Error: errcode.New(errcode.Unavailable, "x")}, Failed},
		// Too short to be the timeout.
		{jobs.Job{Status: jobs.Failed, Timeout: 5 * time.Second, StartedAt: at(t0, 0), FinishedAt: at(t0, 2),
			Error: errcode.New(errcode.Unavailable, "x")}, Failed},
		// Long, but the input was at fault.
		{jobs.Job{Status: jobs.Failed, Timeout: 5 * time.Second, StartedAt: at(t0, 0), FinishedAt: at(t0, 9),
			Error: errcode.New(errcode.NoFaceInTarget, "x")}, Failed},
	} {
		if got := Status(&c.job); got != c.want {
			t.Errorf("%+v: %s, want %s", c.job, got, c.want)
		}
	}
	for _, s := range []string{Completed, Failed, Cancelled, TimedOut} {
		if !Terminal(s) {
			t.Errorf("%s not terminal", s)
		}
	}
	if Terminal(InQueue) || Terminal(InProgress) {
		t.Error("live status terminal")
	}
}

// fakeObjects serves objects from memory and presigns as "https://s3/<key>".
type fakeObjects map[string][]byte

func (f fakeObjects) Get(_ context.Context, key string) (io.ReadCloser, storage.Object, error) {
	b, ok := f[key]
	if !ok {
		return nil, storage.Object{}, storage.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), storage.Object{Key: key, Size: int64(len(b))}, nil
}

func (f fakeObjects) PresignGet(_ context.Context, key string, _ time.Duration, _ string) (string, error) {
	return "https://s3/" + key, nil
}

func TestRender(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	img := []byte("\x89PNG result")
	objs := fakeObjects{"jobs/1/output.png": img}
	done := func(via string, kind jobs.Kind, out *jobs.Output) *jobs.Job {
		return &jobs.Job{ID: "1", Via: via, Kind: kind, Status: jobs.Succeeded, CreatedAt: t0, StartedAt: at(t0, 1.5), FinishedAt: at(t0, 4), Output: out}
	}
	png := &jobs.Output{Key: "jobs/1/output.png", ContentType: "image/png", Size: int64(len(img))}
	b64 := base64.StdEncoding.EncodeToString(img)

	r := Render(ctx, objs, done(ViaFiles, jobs.KindImage, png), time.Hour)
	if r.ID != "1" || r.Status != Completed || *r.DelayTime != 1500 || *r.ExecutionTime != 2500 || r.Output != b64 || r.Error != "" {
		t.Fatalf("%+v", r)
	}
	video := &jobs.Output{Key: "jobs/1/output.mp4", ContentType: "video/mp4", Size: 1 << 30}
	if r = Render(ctx, objs, done(ViaFiles, jobs.KindVideo, video), time.Hour); r.Output != "https://s3/jobs/1/output.mp4" {
		t.Fatalf("video output %v", r.Output)
	}
	if r = Render(ctx, objs, done(ViaFiles, jobs.KindProbe, nil), time.Hour); !reflect.DeepEqual(r.Output, map[string]string{"probe": "ok"}) {
		t.Fatalf("probe output %v", r.Output)
	}
	if r = Render(ctx, objs, done(ViaInswapper, jobs.KindImage, png), time.Hour); !reflect.DeepEqual(r.Output, map[string]string{"image": b64}) {
		t.Fatalf("inswapper output %v", r.Output)
	}
	// Over the inline cap (or unreadable): a URL instead.
	big := &jobs.Output{Key: "jobs/1/output.png", Size: MaxInlineOutput + 1}
	if r = Render(ctx, objs, done(ViaInswapper, jobs.KindImage, big), time.Hour); !reflect.DeepEqual(r.Output, map[string]string{"image_url": "https://s3/jobs/1/output.png"}) {
		t.Fatalf("big inswapper output %v", r.Output)
	}
	missing := &jobs.Output{Key: "jobs/1/gone.png", Size: 10}
	if r = Render(ctx, objs, done(ViaFiles, jobs.KindImage, missing), time.Hour); r.Output != "https://s3/jobs/1/gone.png" {
		t.Fatalf("unreadable output %v", r.Output)
	}
	// A native job seen through /v2: swapd's output object with its URL.
	if r = Render(ctx, objs, done("", jobs.KindImage, png), time.Hour); r.Output.(*jobs.Output).URL != "https://s3/jobs/1/output.png" || png.URL != "" {
		t.Fatalf("native output %+v", r.Output)
	}

	failed := &jobs.Job{ID: "2", Via: ViaInswapper, Status: jobs.Failed, CreatedAt: t0, StartedAt: at(t0, 1), FinishedAt: at(t0, 2),
		Error: errcode.New(errcode.NoFaceInSource, "no face was found in a source image")}
	r = Render(ctx, nil, failed, time.Hour)
	b, _ := json.Marshal(r)
	if string(b) != `{"id":"2","status":"FAILED","delayTime":1000,"executionTime":1000,"error":"NO_FACE_IN_SOURCE: no face was found in a source image"}` {
		t.Fatalf("failed: %s", b)
	}
	timedOut := &jobs.Job{ID: "3", Status: jobs.Failed, Timeout: 5 * time.Second, CreatedAt: t0, StartedAt: at(t0, 0), FinishedAt: at(t0, 5),
		Error: errcode.New(errcode.TimedOut, "the job ran longer than its execution timeout of 5000 ms")}
	if r = Render(ctx, nil, timedOut, time.Hour); r.Status != TimedOut || !strings.HasPrefix(r.Error, "TIMED_OUT: ") || !strings.Contains(r.Error, "5000 ms") {
		t.Fatalf("timed out: %+v", r)
	}
	queued := &jobs.Job{ID: "4", Status: jobs.Queued, CreatedAt: t0}
	b, _ = json.Marshal(Render(ctx, nil, queued, time.Hour))
	if string(b) != `{"id":"4","status":"IN_QUEUE"}` {
		t.Fatalf("queued: %s", b)
	}
	canceled := &jobs.Job{ID: "5", Status: jobs.Canceled, CreatedAt: t0, FinishedAt: at(t0, 1)}
	b, _ = json.Marshal(Render(ctx, nil, canceled, time.Hour))
	if string(b) != `{"id":"5","status":"CANCELLED"}` {
		t.Fatalf("canceled: %s", b)
	}
}

func TestStream(t *testing.T) {
	b, _ := json.Marshal(Stream(&jobs.Job{Status: jobs.Queued}, false))
	if string(b) != `{"status":"IN_QUEUE","stream":[]}` {
		t.Fatalf("%s", b)
	}
	running := &jobs.Job{Status: jobs.Running, Progress: jobs.Progress{Done: 3, Total: 5}}
	b, _ = json.Marshal(Stream(running, true))
	if string(b) != `{"status":"IN_PROGRESS","stream":[{"output":{"progress":{"done":3,"total":5}}}]}` {
		t.Fatalf("%s", b)
	}
	// Progress already handed out is not handed out again.
	b, _ = json.Marshal(Stream(running, false))
	if string(b) != `{"status":"IN_PROGRESS","stream":[]}` {
		t.Fatalf("%s", b)
	}
	b, _ = json.Marshal(Stream(&jobs.Job{Status: jobs.Succeeded, Progress: jobs.Progress{Done: 5, Total: 5}}, false))
	if string(b) != `{"status":"COMPLETED","stream":[]}` {
		t.Fatalf("%s", b)
	}
}

func TestCancelAnswer(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) *time.Time { x := t0.Add(time.Duration(s * float64(time.Second))); return &x }
	for _, c := range []struct {
		j    *jobs.Job
		want string
	}{
		{&jobs.Job{ID: "q", Status: jobs.Canceled, CreatedAt: t0, FinishedAt: at(2)}, `{"id":"q","status":"CANCELLED","delayTime":2000,"executionTime":0}`},
		{&jobs.Job{ID: "r", Status: jobs.Canceled, CreatedAt: t0, StartedAt: at(1), FinishedAt: at(4.5)}, `{"id":"r","status":"CANCELLED","delayTime":1000,"executionTime":3500}`},
		{&jobs.Job{ID: "s", Status: jobs.Succeeded, CreatedAt: t0, StartedAt: at(0.25), FinishedAt: at(1)}, `{"id":"s","status":"COMPLETED","delayTime":250,"executionTime":750}`},
		{&jobs.Job{ID: "u", Status: jobs.Running, CreatedAt: t0, StartedAt: at(1)}, `{"id":"u","status":"IN_PROGRESS","delayTime":1000,"executionTime":2000}`},
	} {
		b, _ := json.Marshal(CancelAnswer(c.j, t0.Add(3*time.Second)))
		if string(b) != c.want {
			t.Errorf("%s, want %s", b, c.want)
		}
	}
}

func TestHook(t *testing.T) {
	for body, want := range map[string]string{
		`{"input": {}, "webhook": "https://a/h"}`:                             "https://a/h",
		`{"input": {}, "webhookV2": " https://b/h "}`:                         "https://b/h",
		`{"input": {}, "webhook": "https://a/h", "webhookV2": "https://b/h"}`: "https://a/h",
		`{"input": {}}`: "",
	} {
		req, err := DecodeRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := req.Hook(); got != want {
			t.Errorf("%s: hook %q, want %q", body, got, want)
		}
	}
}

func TestHealthHasRunPodsFields(t *testing.T) {
	b, _ := json.Marshal(Health{})
	want := `{"jobs":{"completed":0,"failed":0,"inProgress":0,"inQueue":0,"retried":0},` +
		`"workers":{"idle":0,"initializing":0,"ready":0,"running":0,"throttled":0,"unhealthy":0}}`
	if string(b) != want {
		t.Fatalf("%s\nwant %s", b, want)
	}
}

func TestIsRunPod(t *testing.T) {
	if !IsRunPod(ViaFiles) || !IsRunPod(ViaInswapper) || IsRunPod("") {
		t.Fatal("IsRunPod")
	}
}
