package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/tasks"
)

// streamGap tracks how far the handler's reading of a body runs ahead of what
// object storage has received, in decoded bytes.
type streamGap struct {
	mu       sync.Mutex
	pulled   int64 // base64 bytes of the value the handler has read
	received int64 // bytes PUT to storage
	worst    int64
}

func (g *streamGap) sample() {
	if gap := g.pulled*3/4 - g.received; gap > g.worst {
		g.worst = gap
	}
}

type gapReader struct {
	r    io.Reader
	g    *streamGap
	body bool // counts as pulled (else as received)
}

func (c *gapReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.g.mu.Lock()
	if c.body {
		c.g.pulled += int64(n)
	} else {
		c.g.received += int64(n)
	}
	c.g.sample()
	c.g.mu.Unlock()
	return n, err
}

// A 40 MiB base64 input goes through the whole handler to a real MinIO with the body
// never more than one storage part (plus small buffers) ahead of what MinIO has
// received; reading the body whole first would put the whole input between the two.
// The same body sent again with its Idempotency-Key answers the first job and leaves
// nothing of its own in storage.
func TestJSONSubmitStreamsToStorage(t *testing.T) {
	addr, stop, err := testenv.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	m := testenv.MinIO(t)

	// MinIO behind a proxy that counts what object uploads carry.
	gap := &streamGap{}
	target, _ := url.Parse("http://" + m.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" && r.Body != nil {
			r.Body = io.NopCloser(&gapReader{r: r.Body, g: gap})
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	objects, err := storage.New(context.Background(), storage.Config{Endpoint: front.Listener.Addr().String(), AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "stream-test"})
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(Deps{Keys: []string{"k"}, Redis: rdb, Jobs: store, Queue: queue, Store: objects,
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Notifier:  &tasks.Notifier{Client: queue, Jobs: store},
		Limits:    media.Limits{MaxBytes: 64 << 20, MaxPixels: media.DefaultLimits.MaxPixels}})

	var head bytes.Buffer
	if err := png.Encode(&head, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	const size = 40 << 20
	payload := append(head.Bytes(), bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, (size-head.Len())/3)...)
	value := base64.StdEncoding.EncodeToString(payload)
	small := base64.StdEncoding.EncodeToString(head.Bytes())
	prefix := `{"source": {"base64": "` + small + `"}, "options": {"face_selector": "many"}, "target": {"base64": "`
	suffix := `"}}`
	submit := func() *httptest.ResponseRecorder {
		gap.mu.Lock()
		gap.pulled, gap.received, gap.worst = 0, 0, 0
		gap.mu.Unlock()
		body := io.MultiReader(strings.NewReader(prefix), &gapReader{r: strings.NewReader(value), g: gap, body: true}, strings.NewReader(suffix))
		r := httptest.NewRequest("POST", "/v1/jobs", body)
		r.Header.Set("Authorization", "Bearer k")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "stream-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := submit()
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", w.Code, w.Body)
	}
	var first createResponse
	_ = json.Unmarshal(w.Body.Bytes(), &first)
	j, err := store.Get(context.Background(), first.ID)
	if err != nil || j.Target.Size != int64(len(payload)) || len(j.Sources) != 1 || j.Options.FaceSelector != "many" {
		t.Fatalf("job %+v: %v", j, err)
	}
	if bound := int64(storage.PartSize + 1<<20); gap.worst > bound || gap.received < size {
		t.Fatalf("the body ran %d bytes ahead of storage (bound %d); storage received %d of %d", gap.worst, bound, gap.received, size)
	}
	t.Logf("40 MiB input: the body ran at most %d bytes ahead of storage (part size %d)", gap.worst, storage.PartSize)

	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	list := func() (keys []string) {
		for o := range mc.ListObjects(context.Background(), "stream-test", minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, o.Key)
		}
		return keys
	}
	before := list()
	for _, k := range before {
		if !strings.HasPrefix(k, jobs.ObjectPrefix(first.ID)) {
			t.Fatalf("object %s is not the job's", k)
		}
	}
	w = submit()
	var again createResponse
	_ = json.Unmarshal(w.Body.Bytes(), &again)
	if w.Code != http.StatusAccepted || again.ID != first.ID || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (first %s)", w.Code, w.Body, first.ID)
	}
	if gap.received < size {
		t.Fatalf("the replay was not streamed: storage received %d", gap.received)
	}
	if after := list(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("after the replay storage holds %v, before %v", after, before)
	}
}
