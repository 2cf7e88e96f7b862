package faceswap

import (
	"math"
	"math/rand/v2"
	"testing"
)

func shifted(base [5]Point, dx, dy float64) [5]Point {
	var out [5]Point
	for i, p := range base {
		out[i] = Point{p.X + float32(dx), p.Y + float32(dy)}
	}
	return out
}

var testLandmarks = [5]Point{{40, 50}, {60, 50}, {50, 60}, {42, 72}, {58, 72}}

// A still face's landmarks come back exactly; noise on a still face is
// damped; a fast move is followed with little lag, far less than a fixed
// low-pass at the still-face cutoff would leave.
func TestOneEuroFilter(t *testing.T) {
	var f landmarkFilter
	for seq := range 10 {
		if got := f.Filter(seq, testLandmarks, 40); got != testLandmarks {
			t.Fatalf("frame %d: still landmarks changed to %v", seq, got)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	f = landmarkFilter{}
	var rawSq, outSq float64
	for seq := range 300 {
		nx, ny := rng.NormFloat64(), rng.NormFloat64()
		got := f.Filter(seq, shifted(testLandmarks, nx, ny), 40)
		if seq >= 20 {
			rawSq += nx*nx + ny*ny
			ex, ey := float64(got[0].X-testLandmarks[0].X), float64(got[0].Y-testLandmarks[0].Y)
			outSq += ex*ex + ey*ey
		}
	}
	t.Logf("noise on a still face: rms %.3f px raw, %.3f px filtered", math.Sqrt(rawSq/280), math.Sqrt(outSq/280))
	if outSq > 0.25*rawSq {
		t.Errorf("filtered noise power %.1f%% of the raw noise's, want under 25%%", 100*outSq/rawSq)
	}

	// A fast move: 6 px per frame (0.15 face widths) for 20 frames.
	f = landmarkFilter{}
	var fixed float64 // a plain low-pass at the minimum cutoff
	a := euroAlpha(euroMinCutoff, 1)
	var lag, fixedLag float64
	for seq := range 30 {
		x := 0.0
		if seq >= 10 {
			x = 6 * float64(seq-9)
		}
		got := f.Filter(seq, shifted(testLandmarks, x, 0), 40)
		fixed += a * (x - fixed)
		if seq >= 15 {
			lag = math.Max(lag, x-float64(got[0].X-testLandmarks[0].X))
			fixedLag = math.Max(fixedLag, x-fixed)
		}
	}
	t.Logf("lag behind a 6 px/frame move: One-Euro %.2f px, fixed low-pass %.2f px", lag, fixedLag)
	if lag > 6 || lag > fixedLag/3 {
		t.Errorf("One-Euro lags %.2f px behind a fast move (a fixed low-pass %.2f px)", lag, fixedLag)
	}
}
