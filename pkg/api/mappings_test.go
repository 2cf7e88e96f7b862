package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/tasks"
)

// mappingServer is an API on a real Redis and MinIO with two tenant keys.
func mappingServer(t *testing.T) (http.Handler, *jobs.Store) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	m := testenv.MinIO(t)
	objects, err := storage.New(context.Background(), storage.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "mapping-test"})
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(Deps{Keys: []string{"k1", "k2"}, Redis: rdb, Jobs: store, Queue: queue, Store: objects,
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Notifier:  &tasks.Notifier{Client: queue, Jobs: store},
		Limits:    media.Limits{MaxBytes: 1 << 20, MaxPixels: media.DefaultLimits.MaxPixels}}), store
}

// flatPNG is a small valid image; shade tells two apart.
func flatPNG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type answer struct {
	code int
	id   string
	err  string
	msg  string
}

func post(t *testing.T, h http.Handler, key string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/v1/jobs", bytes.NewReader(b))
	r.Header.Set("Authorization", "Bearer "+key)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var v struct {
		ID    string `json:"id"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &v)
	return answer{w.Code, v.ID, v.Error.Code, v.Error.Message}
}

func b64in(b []byte) map[string]string {
	return map[string]string{"base64": base64.StdEncoding.EncodeToString(b)}
}

// succeedAnalysis ends analyze job id as a worker would, with two faces of an image.
func succeedAnalysis(t *testing.T, store *jobs.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := store.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	f0, f1 := 0, 1
	out := &jobs.Output{Key: jobs.AnalysisKey(id), ContentType: "application/json", Size: 2, Faces: 2,
		Analysis: &jobs.Analysis{Media: "image",
			Faces: []jobs.AnalyzedFace{{Index: 0, Identity: "person-1"}, {Index: 1, Identity: "person-2"}},
			Identities: []jobs.Identity{{ID: "person-1", Face: &f0, Frames: 1, Tracks: 1},
				{ID: "person-2", Face: &f1, Frames: 1, Tracks: 1}}},
		Embeddings: map[string]string{"person-1": jobs.EncodeEmbedding([]float32{1, 0}), "person-2": jobs.EncodeEmbedding([]float32{0, 1})}}
	if _, err := store.Succeed(ctx, id, out, nil); err != nil {
		t.Fatal(err)
	}
}

// Submitting analyze jobs and mapped swaps: each bad input gets its own code, and
// another key's analysis answers exactly as a missing one.
func TestMappedSwapSubmit(t *testing.T) {
	h, store := mappingServer(t)
	ctx := context.Background()
	imgA, imgB := flatPNG(t, 100), flatPNG(t, 200)
	source := []map[string]string{{"url": "https://example.com/s.jpg"}}

	// An analyze job takes a target only.
	if a := post(t, h, "k1", map[string]any{"kind": "analyze", "source": b64in(imgA), "target": b64in(imgA)}); a.code != 400 || a.err != "INVALID_REQUEST" {
		t.Errorf("analyze with a source: %+v", a)
	}
	if a := post(t, h, "k1", map[string]any{"kind": "analyze"}); a.code != 400 || a.err != "INVALID_REQUEST" {
		t.Errorf("analyze without a target: %+v", a)
	}
	an := post(t, h, "k1", map[string]any{"kind": "analyze", "target": b64in(imgA)})
	if an.code != http.StatusAccepted {
		t.Fatalf("analyze: %+v", an)
	}
	rec, err := store.Get(ctx, an.id)
	sum := sha256.Sum256(imgA)
	if err != nil || rec.Kind != jobs.KindAnalyze || rec.Target.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("analyze record %+v: %v", rec, err)
	}

	// Multipart: kind=analyze and a target part; a source part is refused.
	multi := func(parts map[string][]byte) int {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, name := range []string{"kind", "source", "target"} {
			if v, ok := parts[name]; ok {
				var w io.Writer
				if name == "kind" {
					w, _ = mw.CreateFormField(name)
				} else {
					w, _ = mw.CreateFormFile(name, name+".png")
				}
				_, _ = w.Write(v)
			}
		}
		_ = mw.Close()
		r := httptest.NewRequest("POST", "/v1/jobs", &body)
		r.Header.Set("Authorization", "Bearer k1")
		r.Header.Set("Content-Type", mw.FormDataContentType())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := multi(map[string][]byte{"kind": []byte("analyze"), "target": imgB}); code != http.StatusAccepted {
		t.Errorf("multipart analyze: %d", code)
	}
	if code := multi(map[string][]byte{"kind": []byte("analyze"), "source": imgA, "target": imgB}); code != http.StatusBadRequest {
		t.Errorf("multipart analyze with a source: %d", code)
	}

	swap := func(key string, target []byte, opts map[string]any) answer {
		return post(t, h, key, map[string]any{"target": b64in(target), "options": opts})
	}
	byID := func(analysis string, ids ...string) map[string]any {
		var ms []any
		for _, id := range ids {
			ms = append(ms, map[string]any{"identity": id, "source": source})
		}
		return map[string]any{"analysis": analysis, "mappings": ms}
	}

	// Not succeeded yet.
	if a := swap("k1", imgA, byID(an.id, "person-1")); a.code != http.StatusConflict || a.err != "ANALYSIS_NOT_READY" {
		t.Errorf("queued analysis: %+v", a)
	}
	succeedAnalysis(t, store, an.id)

	// Another key's analysis (succeeded, same target) looks exactly like a missing one.
	other := post(t, h, "k2", map[string]any{"kind": "analyze", "target": b64in(imgA)})
	if other.code != http.StatusAccepted {
		t.Fatalf("k2 analyze: %+v", other)
	}
	succeedAnalysis(t, store, other.id)
	missing := "0190c0de-0000-7000-8000-000000000000"
	aOther, aMissing := swap("k1", imgA, byID(other.id, "person-1")), swap("k1", imgA, byID(missing, "person-1"))
	if aOther.code != 400 || aOther.err != "ANALYSIS_NOT_FOUND" || aMissing.code != 400 || aMissing.err != "ANALYSIS_NOT_FOUND" ||
		strings.ReplaceAll(aOther.msg, other.id, "ID") != strings.ReplaceAll(aMissing.msg, missing, "ID") {
		t.Errorf("another key's analysis %+v, a missing one %+v: want the same ANALYSIS_NOT_FOUND", aOther, aMissing)
	}
	// A job of this key that is not an analysis is not one.
	probe := post(t, h, "k1", map[string]any{"kind": "probe"})
	if a := swap("k1", imgA, byID(probe.id, "person-1")); a.code != 400 || a.err != "ANALYSIS_NOT_FOUND" {
		t.Errorf("a probe as the analysis: %+v", a)
	}

	for name, c := range map[string]struct {
		target []byte
		opts   map[string]any
		code   int
		err    string
	}{
		"another target":        {imgB, byID(an.id, "person-1"), 400, "ANALYSIS_TARGET_MISMATCH"},
		"unknown identity":      {imgA, byID(an.id, "person-1", "person-9"), 400, "UNKNOWN_IDENTITY"},
		"unknown face":          {imgA, map[string]any{"analysis": an.id, "mappings": []any{map[string]any{"face": 2, "source": source}}}, 400, "UNKNOWN_IDENTITY"},
		"no source":             {imgA, map[string]any{"analysis": an.id, "mappings": []any{map[string]any{"identity": "person-1"}}}, 400, "MAPPING_WITHOUT_SOURCE"},
		"empty source":          {imgA, map[string]any{"analysis": an.id, "mappings": []any{map[string]any{"identity": "person-1", "source": []any{}}}}, 400, "MAPPING_WITHOUT_SOURCE"},
		"identity, no analysis": {imgA, map[string]any{"mappings": []any{map[string]any{"identity": "person-1", "source": source}}}, 400, "INVALID_REQUEST"},
		"base64 in a mapping":   {imgA, map[string]any{"analysis": an.id, "mappings": []any{map[string]any{"identity": "person-1", "source": []any{b64in(imgA)}}}}, 400, "INVALID_REQUEST"},
		"input with two fields": {imgA, map[string]any{"analysis": an.id, "mappings": []any{map[string]any{"identity": "person-1", "source": []any{map[string]any{"url": "https://e.com/a", "content_type": "image/png"}}}}}, 400, "INVALID_REQUEST"},
	} {
		if a := swap("k1", c.target, c.opts); a.code != c.code || a.err != c.err {
			t.Errorf("%s: %+v, want %d %s", name, a, c.code, c.err)
		}
	}
	// With mappings, the sources are the mappings'.
	if a := post(t, h, "k1", map[string]any{"source": source[0], "target": b64in(imgA), "options": byID(an.id, "person-1")}); a.code != 400 || a.err != "INVALID_REQUEST" {
		t.Errorf("top-level source with mappings: %+v", a)
	}

	// Good ones: by identity and face of the analysis, and by reference without one.
	ok := swap("k1", imgA, map[string]any{"analysis": an.id, "unmapped": "blur", "mappings": []any{
		map[string]any{"identity": "person-1", "source": source},
		map[string]any{"face": 1, "source": []any{map[string]any{"url": "https://example.com/t.jpg"}, map[string]any{"url": "https://example.com/u.jpg"}}},
	}})
	if ok.code != http.StatusAccepted {
		t.Fatalf("mapped swap: %+v", ok)
	}
	j, err := store.Get(ctx, ok.id)
	if err != nil || j.Kind != jobs.KindImage || len(j.Options.Mappings) != 2 || len(j.Options.Mappings[1].Source) != 2 || j.Options.Unmapped != "blur" || len(j.Sources) != 0 {
		t.Fatalf("mapped swap record %+v: %v", j, err)
	}
	if n := len(j.Inputs()); n != 4 { // target and three mapping sources
		t.Errorf("Inputs() has %d inputs, want 4", n)
	}
	ref := swap("k1", imgB, map[string]any{"mappings": []any{map[string]any{"reference": map[string]string{"url": "https://example.com/r.jpg"}, "source": source}}})
	if ref.code != http.StatusAccepted {
		t.Fatalf("mapping by reference: %+v", ref)
	}

	// The analysis's embeddings only when asked for.
	get := func(path string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer k1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	emb := jobs.EncodeEmbedding([]float32{1, 0})
	if code, body := get("/v1/jobs/" + an.id); code != 200 || strings.Contains(body, emb) || !strings.Contains(body, `"person-2"`) {
		t.Errorf("GET analysis: %d %s", code, body)
	}
	if code, body := get("/v1/jobs/" + an.id + "?include=embeddings"); code != 200 || !strings.Contains(body, `"embedding":"`+emb+`"`) {
		t.Errorf("GET analysis with embeddings: %d %s", code, body)
	}
	if code, _ := get("/v1/jobs/" + an.id + "?include=everything"); code != 400 {
		t.Errorf("include=everything: %d", code)
	}
}
