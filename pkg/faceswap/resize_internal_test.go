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

// TestWarpMatchesFloat: WarpFrame's fixed-point interpolation stays within one
// level of a float64-position, float32-weight reference, and warpNCHW is exactly
// WarpFrame, planar and normalised.
func TestWarpMatchesFloat(t *testing.T) {
	src := texture(300, 220)
	fsrc := make([]float32, len(src.Pix))
	for i, v := range src.Pix {
		fsrc[i] = float32(v)
	}
	lm := [5]Point{{120, 90}, {170, 88}, {146, 120}, {126, 150}, {168, 148}}
	edge := [5]Point{{5, 10}, {40, 12}, {20, 30}, {8, 50}, {38, 52}} // crop reaches past the frame
	for _, c := range []struct {
		lm   [5]Point
		t    Template
		size int
	}{{lm, ArcFace112V2, 112}, {lm, ArcFace128, 128}, {lm, ArcFace128, 256}, {lm, FFHQ512, 512}, {edge, ArcFace128, 128}} {
		m := AlignTransform(c.lm, c.t, c.size)
		got := WarpFrame(src, m, c.size, c.size)
		inv, _ := m.Invert()
		ref := warpFloat(fsrc, src.Width, src.Height, 3, inv, c.size, c.size, true)
		worst, off := 0.0, 0
		for i, v := range got.Pix {
			d := math.Abs(float64(v) - math.Floor(float64(ref[i])+0.5))
			worst = math.Max(worst, d)
			if d > 0 {
				off++
			}
		}
		if worst > 1 || off > len(got.Pix)/50 {
			t.Errorf("size %d: WarpFrame differs from the float reference by up to %v levels at %d of %d values", c.size, worst, off, len(got.Pix))
		}
		plane := c.size * c.size
		dst := make([]float32, 3*plane)
		warpNCHW(src, m, c.size, dst, 2.0/255, -1)
		for i := 0; i < plane; i++ {
			for ch := 0; ch < 3; ch++ {
				if want := float32(got.Pix[i*3+ch])*(2.0/255) - 1; dst[ch*plane+i] != want {
					t.Fatalf("size %d: warpNCHW value %v, WarpFrame gives %v", c.size, dst[ch*plane+i], want)
				}
			}
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
