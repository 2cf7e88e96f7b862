package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/storage"
)

// analyzePipe is a pipeline stand-in: an image's "face" embedding is its width, an
// analysis finds two faces, and a swap records what it was asked to swap.
type analyzePipe struct{ swapped *Identity }

func (p *analyzePipe) Acquire(context.Context) (Pipeline, func(), error) { return p, func() {}, nil }

func (p *analyzePipe) EmbedLargest(_ context.Context, src media.Frame, _ jobs.Options, _ map[string]time.Duration) ([]float32, error) {
	return []float32{float32(src.Width), 1}, nil
}

func (p *analyzePipe) EmbedFaces(context.Context, media.Frame, jobs.Options, map[string]time.Duration) ([][]float32, error) {
	return nil, nil
}

func (p *analyzePipe) Average(embs [][]float32) ([]float32, error) {
	out := make([]float32, len(embs[0]))
	for _, e := range embs {
		for i, x := range e {
			out[i] += x / float32(len(embs))
		}
	}
	return out, nil
}

func (p *analyzePipe) SwapImage(_ context.Context, target media.Frame, id Identity, _ jobs.Options, _ map[string]time.Duration) (media.Frame, int, error) {
	p.swapped = &id
	return target, len(id.Mappings), nil
}

func (p *analyzePipe) SwapVideo(context.Context, FrameReader, FrameWriter, Identity, jobs.Options, func(int), map[string]time.Duration) (VideoResult, error) {
	return VideoResult{}, nil
}

func (p *analyzePipe) AnalyzeImage(_ context.Context, target media.Frame, _ jobs.Options, _ map[string]time.Duration) (Analysis, error) {
	var a Analysis
	for i := 0; i < 2; i++ {
		idx := i
		a.Result.Faces = append(a.Result.Faces, jobs.AnalyzedFace{Index: i, Box: [4]float64{float64(10 * i), 0, float64(10*i + 8), 9}, Score: 0.9, Identity: jobs.IdentityID(i)})
		a.Result.Identities = append(a.Result.Identities, jobs.Identity{ID: jobs.IdentityID(i), Face: &idx, Frames: 1, Tracks: 1})
		a.FaceThumbs = append(a.FaceThumbs, media.NewFrame(10+i, 12))
		a.IdentityThumbs = append(a.IdentityThumbs, media.NewFrame(10+i, 12))
		a.Embeddings = append(a.Embeddings, []float32{float32(i), 7})
	}
	return a, nil
}

func (p *analyzePipe) AnalyzeVideo(context.Context, FrameReader, jobs.Options, func(int), map[string]time.Duration) (Analysis, error) {
	return Analysis{}, nil
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = color.Gray{Y: 90}.Y
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An analyze job stores its thumbnails as JPEGs and its result under the output's
// prefix and keeps the embeddings in the output; a mapped swap then gets, for a
// mapping by identity, that identity's embedding as the person to look for, and for
// a mapping by reference, the reference image's face; each with its own sources
// averaged. An analysis that is another key's, or gone, fails the swap with
// ANALYSIS_NOT_FOUND.
func TestAnalyzeThenMappedSwap(t *testing.T) {
	ctx := context.Background()
	files := map[string][]byte{"/target.png": pngOf(t, 64, 48), "/s1.png": pngOf(t, 20, 20), "/s2.png": pngOf(t, 40, 40), "/ref.png": pngOf(t, 30, 30)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	store := jobs.NewStore(rdb, time.Hour)
	m := testenv.MinIO(t)
	objects, err := storage.New(ctx, storage.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "analyze-test"})
	if err != nil {
		t.Fatal(err)
	}
	pipe := &analyzePipe{}
	h := &SwapHandler{Jobs: store, Store: objects, Devices: pipe, Limits: media.DefaultLimits, Video: media.DefaultVideoLimits,
		Fetcher: &Fetcher{Client: netguard.NewClient(netguard.Policy{Allow: []string{"localhost"}}, 5*time.Second)},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil))}

	an := &jobs.Job{ID: "an-1", Kind: jobs.KindAnalyze, Owner: "o1", CreatedAt: time.Now(), Target: jobs.Input{URL: base + "/target.png"}}
	if err := store.Create(ctx, an); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Start(ctx, an.ID); err != nil {
		t.Fatal(err)
	}
	out, _, err := h.run(ctx, an)
	if err != nil {
		t.Fatal(err)
	}
	a := out.Analysis
	if a == nil || a.Media != "image" || len(a.Faces) != 2 || len(a.Identities) != 2 || out.Faces != 2 || len(out.Embeddings) != 2 {
		t.Fatalf("output %+v analysis %+v", out, a)
	}
	thumbs := []jobs.Thumbnail{a.Faces[0].Thumbnail, a.Faces[1].Thumbnail, a.Identities[0].Thumbnail, a.Identities[1].Thumbnail}
	for i, th := range thumbs {
		if !strings.HasPrefix(th.Key, jobs.OutputPrefix(an.ID)) || th.Width != 10+i%2 || th.Height != 12 {
			t.Fatalf("thumbnail %d: %+v", i, th)
		}
		rc, _, err := objects.Get(ctx, th.Key)
		if err != nil {
			t.Fatalf("thumbnail %s: %v", th.Key, err)
		}
		img, err := jpeg.Decode(rc)
		rc.Close()
		if err != nil || img.Bounds().Dx() != th.Width || img.Bounds().Dy() != th.Height {
			t.Fatalf("thumbnail %s is not a %dx%d JPEG: %v", th.Key, th.Width, th.Height, err)
		}
	}
	rc, _, err := objects.Get(ctx, out.Key)
	if err != nil {
		t.Fatal(err)
	}
	var stored jobs.Analysis
	err = json.NewDecoder(rc).Decode(&stored)
	rc.Close()
	if err != nil || len(stored.Identities) != 2 || stored.Identities[1].ID != "person-2" || stored.Identities[1].Embedding != "" {
		t.Fatalf("stored analysis %+v: %v", stored, err)
	}
	if _, err := store.Succeed(ctx, an.ID, out, nil); err != nil {
		t.Fatal(err)
	}

	swap := &jobs.Job{ID: "swap-1", Kind: jobs.KindImage, Owner: "o1", CreatedAt: time.Now(), Target: jobs.Input{URL: base + "/target.png"},
		Options: jobs.Options{Analysis: an.ID, Mappings: []jobs.Mapping{
			{Identity: "person-2", Source: []jobs.Input{{URL: base + "/s1.png"}, {URL: base + "/s2.png"}}},
			{Reference: &jobs.Input{URL: base + "/ref.png"}, Source: []jobs.Input{{URL: base + "/s1.png"}}},
		}, Unmapped: jobs.UnmappedBlur}}
	if _, _, err := h.run(ctx, swap); err != nil {
		t.Fatal(err)
	}
	got := pipe.swapped
	if got == nil || len(got.Mappings) != 2 || got.Unmapped != jobs.UnmappedBlur {
		t.Fatalf("swapped %+v", got)
	}
	eq := func(a, b []float32) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	for i, want := range []Mapping{{Reference: []float32{1, 7}, Source: []float32{30, 1}}, {Reference: []float32{30, 1}, Source: []float32{20, 1}}} {
		if g := got.Mappings[i]; !eq(g.Reference, want.Reference) || !eq(g.Source, want.Source) {
			t.Errorf("mapping %d: %+v, want %+v", i, g, want)
		}
	}

	// Another key's analysis, and one that is gone.
	swap.Owner = "o2"
	if _, _, err := h.run(ctx, swap); errcode.Code(err) != errcode.AnalysisNotFound {
		t.Errorf("another key's analysis: %v", err)
	}
	swap.Owner = "o1"
	swap.Options.Mappings[0].Identity = "person-3"
	if _, _, err := h.run(ctx, swap); errcode.Code(err) != errcode.UnknownIdentity {
		t.Errorf("unknown identity: %v", err)
	}
	swap.Options.Mappings[0].Identity = "person-1"
	if _, err := store.Delete(ctx, an); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.run(ctx, swap); errcode.Code(err) != errcode.AnalysisNotFound {
		t.Errorf("deleted analysis: %v", err)
	}
}
