package faceswap

import (
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/media"
)

// texture is a frame with detail at every scale, so interpolation errors show.
func texture(w, h int) media.Frame {
	f := media.NewFrame(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			f.Pix[i] = uint8((x*7 + y*3) % 256)
			f.Pix[i+1] = uint8(128 + 120*math.Sin(float64(x)/9)*math.Cos(float64(y)/13))
			f.Pix[i+2] = uint8((x ^ y) & 255)
		}
	}
	return f
}

// TestWarpNCHWMatchesWarpFrame: the fixed-point fused warp stays within one
// level of the float reference (WarpFrame), planar and normalised.
func TestWarpNCHWMatchesWarpFrame(t *testing.T) {
	src := texture(300, 220)
	lm := [5]Point{{120, 90}, {170, 88}, {146, 120}, {126, 150}, {168, 148}}
	for _, size := range []int{112, 128, 256} {
		m := AlignTransform(lm, ArcFace128, size)
		ref := WarpFrame(src, m, size, size)
		dst := make([]float32, 3*size*size)
		warpNCHW(src, m, size, dst, 1, 0)
		plane := size * size
		worst, off := 0.0, 0
		for i := 0; i < plane; i++ {
			for c := 0; c < 3; c++ {
				d := math.Abs(float64(dst[c*plane+i]) - float64(ref.Pix[i*3+c]))
				worst = math.Max(worst, d)
				if d > 0 {
					off++
				}
			}
		}
		if worst > 1 || off > 3*plane/100 {
			t.Errorf("size %d: warpNCHW differs from WarpFrame by up to %v levels at %d values", size, worst, off)
		}
	}
	// Normalisation is applied after rounding.
	dst := make([]float32, 3*128*128)
	warpNCHW(src, AlignTransform(lm, ArcFace128, 128), 128, dst, 2.0/255, -1)
	for _, v := range dst {
		if v < -1 || v > 1 {
			t.Fatalf("normalised value %v outside [-1,1]", v)
		}
	}
}

// TestResizeIntoMatchesFloat: the fixed-point separable letterbox resize stays
// within one level of a float bilinear reference with OpenCV's sampling.
func TestResizeIntoMatchesFloat(t *testing.T) {
	for _, c := range [][4]int{{300, 220, 640, 469}, {1000, 700, 640, 448}, {97, 61, 320, 201}} {
		src := texture(c[0], c[1])
		w, h, nw, nh := 640, 640, c[2], c[3]
		blob := make([]float32, 3*w*h)
		for i := range blob {
			blob[i] = 42 // must be overwritten everywhere
		}
		resizeInto(src, blob, w, h, nw, nh, false, 1, 0)
		xs0, xs1, xa := resizeTaps(src.Width, nw)
		ys0, ys1, ya := resizeTaps(src.Height, nh)
		plane := w * h
		worst := 0.0
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < 3; ch++ {
					got := float64(blob[ch*plane+y*w+x])
					want := 0.0
					if x < nw && y < nh {
						p := func(yy, xx int) float64 { return float64(src.Pix[(yy*src.Width+xx)*3+ch]) }
						fx, fy := float64(xa[x]), float64(ya[y])
						top := p(ys0[y], xs0[x])*(1-fx) + p(ys0[y], xs1[x])*fx
						bot := p(ys1[y], xs0[x])*(1-fx) + p(ys1[y], xs1[x])*fx
						want = math.Floor(top*(1-fy) + bot*fy + 0.5)
					}
					worst = math.Max(worst, math.Abs(got-want))
				}
			}
		}
		if worst > 1 {
			t.Errorf("%dx%d → %dx%d: off by up to %v levels", c[0], c[1], nw, nh, worst)
		}
	}
}
