package faceswap

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/swapd/swapd/pkg/media"
)

// warpFloat is the straightforward reference for PasteBack's fused loop: it warps an interleaved float image (ch channels) into dw×dh with inv
// mapping dst to src. replicate selects BORDER_REPLICATE; otherwise pixels outside
// the source read as 0 (BORDER_CONSTANT), which is how FaceFusion warps the mask so
// that nothing outside the crop is blended.
func warpFloat(src []float32, sw, sh, ch int, inv Affine, dw, dh int, replicate bool) []float32 {
	out := make([]float32, dw*dh*ch)
	for y := 0; y < dh; y++ {
		fx := inv[1]*float64(y) + inv[2]
		fy := inv[4]*float64(y) + inv[5]
		o := y * dw * ch
		for x := 0; x < dw; x++ {
			sx := fx + inv[0]*float64(x)
			sy := fy + inv[3]*float64(x)
			x0, y0 := floorFrac(sx), floorFrac(sy)
			ax, ay := float32(sx-float64(x0)), float32(sy-float64(y0))
			x1, y1 := x0+1, y0+1
			if replicate {
				x0, x1 = clampInt(x0, sw-1), clampInt(x1, sw-1)
				y0, y1 = clampInt(y0, sh-1), clampInt(y1, sh-1)
				for c := 0; c < ch; c++ {
					v00 := src[(y0*sw+x0)*ch+c]
					v01 := src[(y0*sw+x1)*ch+c]
					v10 := src[(y1*sw+x0)*ch+c]
					v11 := src[(y1*sw+x1)*ch+c]
					out[o+c] = (v00*(1-ax)+v01*ax)*(1-ay) + (v10*(1-ax)+v11*ax)*ay
				}
			} else {
				if x1 < 0 || y1 < 0 || x0 >= sw || y0 >= sh {
					o += ch
					continue // entirely outside: stays 0
				}
				in0x, in1x := x0 >= 0, x1 < sw
				in0y, in1y := y0 >= 0, y1 < sh
				for c := 0; c < ch; c++ {
					var v00, v01, v10, v11 float32
					if in0y && in0x {
						v00 = src[(y0*sw+x0)*ch+c]
					}
					if in0y && in1x {
						v01 = src[(y0*sw+x1)*ch+c]
					}
					if in1y && in0x {
						v10 = src[(y1*sw+x0)*ch+c]
					}
					if in1y && in1x {
						v11 = src[(y1*sw+x1)*ch+c]
					}
					out[o+c] = (v00*(1-ax)+v01*ax)*(1-ay) + (v10*(1-ax)+v11*ax)*ay
				}
			}
			o += ch
		}
	}
	return out
}

// TestPasteBackMatchesReference checks the fused paste against FaceFusion's
// formulation: warp crop (replicate) and mask (zero border) over the paste region,
// then blend.
func TestPasteBackMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	frame := media.NewFrame(300, 260)
	for i := range frame.Pix {
		frame.Pix[i] = uint8(rng.IntN(256))
	}
	const size = 128
	crop := make([]float32, size*size*3)
	for i := range crop {
		crop[i] = float32(rng.Float64() * 255)
	}
	mask := BoxMask(size, 0.3, [4]float64{})
	for _, m := range []Affine{
		AlignTransform([5]Point{{120, 100}, {170, 98}, {146, 130}, {125, 160}, {168, 158}}, ArcFace128, size),
		AlignTransform([5]Point{{10, 20}, {60, 30}, {30, 50}, {15, 80}, {55, 85}}, ArcFace128, size), // clipped at the frame edge
	} {
		got := frame.Clone()
		PasteBack(got, crop, mask, size, m)

		want := frame.Clone()
		x1, y1, x2, y2, ok := PasteRegion(m, size, frame.Width, frame.Height)
		if !ok {
			t.Fatal("empty paste region")
		}
		toCrop := m
		toCrop[2] += m[0]*float64(x1) + m[1]*float64(y1)
		toCrop[5] += m[3]*float64(x1) + m[4]*float64(y1)
		pw, ph := x2-x1, y2-y1
		wc := warpFloat(crop, size, size, 3, toCrop, pw, ph, true)
		wm := warpFloat(mask, size, size, 1, toCrop, pw, ph, false)
		for y := 0; y < ph; y++ {
			for x := 0; x < pw; x++ {
				a := min(max(wm[y*pw+x], 0), 1)
				for c := 0; c < 3; c++ {
					i := ((y+y1)*frame.Width+x+x1)*3 + c
					want.Pix[i] = clampByte(float32(want.Pix[i])*(1-a) + wc[(y*pw+x)*3+c]*a)
				}
			}
		}
		var changed, diff int
		for i := range got.Pix {
			if got.Pix[i] != frame.Pix[i] {
				changed++
			}
			if d := int(got.Pix[i]) - int(want.Pix[i]); d > 1 || d < -1 {
				diff++
			}
		}
		if changed == 0 {
			t.Fatal("paste changed nothing")
		}
		if diff != 0 {
			t.Errorf("%d channel values differ from the reference by more than 1", diff)
		}
		// Outside the region nothing may change.
		for y := 0; y < frame.Height; y++ {
			for x := 0; x < frame.Width; x++ {
				if x >= x1 && x < x2 && y >= y1 && y < y2 {
					continue
				}
				i := (y*frame.Width + x) * 3
				if got.Pix[i] != frame.Pix[i] || got.Pix[i+1] != frame.Pix[i+1] || got.Pix[i+2] != frame.Pix[i+2] {
					t.Fatalf("pixel (%d,%d) outside the paste region changed", x, y)
				}
			}
		}
	}
}

func TestPasteRegion(t *testing.T) {
	// Identity-like transform at offset: the crop maps to [10,138)×[20,148).
	m := Affine{1, 0, -10, 0, 1, -20}
	x1, y1, x2, y2, ok := PasteRegion(m, 128, 1000, 1000)
	if !ok || x1 != 10 || y1 != 20 || x2 != 138 || y2 != 148 {
		t.Fatalf("region %d %d %d %d", x1, y1, x2, y2)
	}
	// Clipped to the frame.
	x1, y1, x2, y2, ok = PasteRegion(m, 128, 100, 100)
	if !ok || x2 != 100 || y2 != 100 {
		t.Fatalf("clipped region %d %d %d %d", x1, y1, x2, y2)
	}
	// Entirely outside.
	if _, _, _, _, ok = PasteRegion(Affine{1, 0, 500, 0, 1, 500}, 128, 100, 100); ok {
		t.Fatal("region outside the frame reported")
	}
}

// floorFrac is floor for the coordinate ranges warps produce, clamped so that
// absurd transforms cannot overflow int.
func floorFrac(v float64) int {
	if v < -1e9 {
		return -1e9
	}
	if v > 1e9 {
		return 1e9
	}
	return int(math.Floor(v))
}
