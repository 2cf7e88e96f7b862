package faceswap_test

import (
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

func TestUmeyamaRecoversSimilarity(t *testing.T) {
	src := []faceswap.Point{{38.3, 51.7}, {73.5, 51.5}, {56.0, 71.7}, {41.5, 92.4}, {70.7, 92.2}}
	for _, c := range []struct{ scale, angle, tx, ty float64 }{
		{1, 0, 0, 0}, {1.7, 0.3, 12.5, -40}, {0.25, -2.9, 300, 81}, {3.2, math.Pi / 2, -5, 7},
	} {
		want := faceswap.Affine{
			c.scale * math.Cos(c.angle), -c.scale * math.Sin(c.angle), c.tx,
			c.scale * math.Sin(c.angle), c.scale * math.Cos(c.angle), c.ty,
		}
		dst := make([]faceswap.Point, len(src))
		for i, p := range src {
			dst[i] = want.Apply(p)
		}
		got := faceswap.Umeyama(src, dst)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
				t.Errorf("%+v: got %v want %v", c, got, want)
				break
			}
		}
	}
}

func TestUmeyamaLeastSquares(t *testing.T) {
	// With noisy points the fit beats small perturbations of itself.
	src := []faceswap.Point{{10, 10}, {50, 12}, {30, 30}, {15, 50}, {45, 52}}
	dst := []faceswap.Point{{20, 31}, {101, 29}, {58, 73}, {33, 110}, {95, 108}}
	m := faceswap.Umeyama(src, dst)
	cost := func(m faceswap.Affine) float64 {
		var s float64
		for i, p := range src {
			q := m.Apply(p)
			s += math.Pow(float64(q.X-dst[i].X), 2) + math.Pow(float64(q.Y-dst[i].Y), 2)
		}
		return s
	}
	best := cost(m)
	for _, d := range [][2]float64{{1e-3, 0}, {-1e-3, 0}, {0, 1e-3}, {0, -1e-3}} {
		p := m
		p[0] += d[0]
		p[4] += d[0]
		p[1] -= d[1]
		p[3] += d[1]
		if c := cost(p); c < best-1e-6 {
			t.Errorf("perturbed similarity %v has lower cost %v < %v", d, c, best)
		}
	}
	if m[0] != m[4] || m[1] != -m[3] {
		t.Errorf("not a similarity: %v", m)
	}
}

func TestAffineInvert(t *testing.T) {
	m := faceswap.Affine{1.2, -0.4, 10, 0.4, 1.2, -3}
	inv, ok := m.Invert()
	if !ok {
		t.Fatal("not invertible")
	}
	p := faceswap.Point{X: 17, Y: 33}
	q := inv.Apply(m.Apply(p))
	if math.Abs(float64(q.X-p.X)) > 1e-4 || math.Abs(float64(q.Y-p.Y)) > 1e-4 {
		t.Fatalf("roundtrip %v -> %v", p, q)
	}
	if _, ok := (faceswap.Affine{}).Invert(); ok {
		t.Fatal("zero matrix inverted")
	}
}

func TestTemplates(t *testing.T) {
	// arcface_112_v2 × 112 is InsightFace's arcface_dst; arcface_128 × 128 is that + (8, 0).
	dst := [5][2]float32{{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}}
	a, b := faceswap.ArcFace112V2.Scaled(112), faceswap.ArcFace128.Scaled(128)
	for i, d := range dst {
		if math.Abs(float64(a[i].X-d[0])) > 1e-3 || math.Abs(float64(a[i].Y-d[1])) > 1e-3 {
			t.Errorf("arcface_112_v2[%d] = %v, want %v", i, a[i], d)
		}
		if math.Abs(float64(b[i].X-d[0]-8)) > 1e-3 || math.Abs(float64(b[i].Y-d[1])) > 1e-3 {
			t.Errorf("arcface_128[%d] = %v, want %v + (8,0)", i, b[i], d)
		}
	}
}

// smoothFrame is a frame without sharp edges, so bilinear resampling is nearly exact.
func smoothFrame(w, h int) media.Frame {
	f := media.NewFrame(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			f.Pix[i] = uint8(128 + 100*math.Sin(float64(x)/23))
			f.Pix[i+1] = uint8(128 + 100*math.Cos(float64(y)/17))
			f.Pix[i+2] = uint8((x + y) * 255 / (w + h))
		}
	}
	return f
}

func TestWarpRoundTrip(t *testing.T) {
	src := smoothFrame(200, 160)
	// A face-crop-like transform: rotate 20°, scale 0.8, into a 128 crop.
	a, s := 20*math.Pi/180, 0.8
	m := faceswap.Affine{s * math.Cos(a), -s * math.Sin(a), -20, s * math.Sin(a), s * math.Cos(a), 30}
	crop := faceswap.WarpFrame(src, m, 128, 128)
	inv, _ := m.Invert()
	back := faceswap.WarpFrame(crop, inv, src.Width, src.Height)
	// Compare where the crop actually covered the source (away from its borders).
	var sum, n float64
	for y := 0; y < src.Height; y++ {
		for x := 0; x < src.Width; x++ {
			q := m.Apply(faceswap.Point{X: float32(x), Y: float32(y)})
			if q.X < 4 || q.Y < 4 || q.X > 123 || q.Y > 123 {
				continue
			}
			for c := 0; c < 3; c++ {
				i := (y*src.Width+x)*3 + c
				sum += math.Abs(float64(src.Pix[i]) - float64(back.Pix[i]))
				n++
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %v samples compared", n)
	}
	if mean := sum / n; mean > 2 {
		t.Errorf("warp+inverse warp mean abs error %.2f levels", mean)
	}
	// Identity warp is exact, and replicate border repeats the edge.
	id := faceswap.WarpFrame(src, faceswap.Affine{1, 0, 0, 0, 1, 0}, src.Width, src.Height)
	for i := range id.Pix {
		if id.Pix[i] != src.Pix[i] {
			t.Fatal("identity warp changed pixels")
		}
	}
	shifted := faceswap.WarpFrame(src, faceswap.Affine{1, 0, 10, 0, 1, 0}, 20, 1)
	for x := 0; x < 10; x++ {
		if shifted.Pix[x*3] != src.Pix[0] {
			t.Fatalf("replicate border: pixel %d = %d, want edge %d", x, shifted.Pix[x*3], src.Pix[0])
		}
	}
}
