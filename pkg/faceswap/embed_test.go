package faceswap_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

func norm(e faceswap.Embedding) float64 {
	var s float64
	for _, v := range e {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// resample returns f scaled by s about its centre, shifted by (dx, dy), with
// bilinear resampling: the "same photo, different framing" augmentation.
func resample(f media.Frame, s, dx, dy float64) media.Frame {
	cx, cy := float64(f.Width)/2, float64(f.Height)/2
	m := faceswap.Affine{s, 0, cx - s*cx + dx, 0, s, cy - s*cy + dy}
	return faceswap.WarpFrame(f, m, f.Width, f.Height)
}

func TestEmbedIdentity(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	astro := loadFrame(t, "astronaut.png")
	embed := func(f media.Frame) faceswap.Embedding {
		t.Helper()
		e, st, err := p.Embed(ctx, []media.Frame{f}, faceswap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Detect <= 0 || st.Embed <= 0 {
			t.Errorf("stats not filled: %+v", st)
		}
		if len(e) != faceswap.EmbeddingSize {
			t.Fatalf("embedding length %d", len(e))
		}
		if n := norm(e); math.Abs(n-1) > 1e-4 {
			t.Fatalf("embedding norm %v, want 1", n)
		}
		return e
	}
	a := embed(astro)
	aShift := embed(resample(astro, 1.15, 17, -9))
	g := embed(loadFrame(t, "grace_hopper.jpg"))
	same, other := faceswap.Cosine(a, aShift), faceswap.Cosine(a, g)
	t.Logf("cos(astronaut, resampled astronaut) = %.3f, cos(astronaut, grace_hopper) = %.3f", same, other)
	if same < 0.6 {
		t.Errorf("resampled astronaut similarity %.3f is low", same)
	}
	if other >= same {
		t.Errorf("different people (%.3f) closer than the same face (%.3f)", other, same)
	}

	// Averaging: two sources give the renormalised mean of their embeddings.
	avg, _, err := p.Embed(ctx, []media.Frame{astro, loadFrame(t, "grace_hopper.jpg")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := faceswap.AverageEmbeddings([]faceswap.Embedding{a, g})
	if err != nil {
		t.Fatal(err)
	}
	if c := faceswap.Cosine(avg, want); c < 0.9999 {
		t.Errorf("Embed of two sources differs from AverageEmbeddings: cos %.5f", c)
	}
	if math.Abs(norm(avg)-1) > 1e-4 {
		t.Errorf("average norm %v", norm(avg))
	}
	if ca, cg := faceswap.Cosine(avg, a), faceswap.Cosine(avg, g); ca <= other || cg <= other {
		t.Errorf("average not between its inputs: cos to astronaut %.3f, to grace %.3f", ca, cg)
	}
}

func TestAverageEmbeddings(t *testing.T) {
	a := faceswap.Embedding{1, 0, 0}
	b := faceswap.Embedding{0, 1, 0}
	avg, err := faceswap.AverageEmbeddings([]faceswap.Embedding{a, b})
	if err != nil {
		t.Fatal(err)
	}
	h := float32(1 / math.Sqrt2)
	if math.Abs(float64(avg[0]-h)) > 1e-6 || math.Abs(float64(avg[1]-h)) > 1e-6 || avg[2] != 0 {
		t.Fatalf("average %v", avg)
	}
	if _, err := faceswap.AverageEmbeddings(nil); err == nil {
		t.Error("empty average accepted")
	}
	if _, err := faceswap.AverageEmbeddings([]faceswap.Embedding{a, {-1, 0, 0}}); err == nil {
		t.Error("cancelling embeddings accepted")
	}
}

func TestEmbedNoFace(t *testing.T) {
	p := testPipeline(t)
	_, _, err := p.Embed(context.Background(), []media.Frame{loadFrame(t, "astronaut.png"), grayFrame(300, 300)}, faceswap.Options{})
	if !errors.Is(err, faceswap.ErrNoFaceInSource) {
		t.Fatalf("got %v, want ErrNoFaceInSource", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Embed: %v", err)
	}
	if _, _, err := p.Embed(context.Background(), nil, faceswap.Options{}); err == nil {
		t.Fatal("Embed with no sources succeeded")
	}
}
