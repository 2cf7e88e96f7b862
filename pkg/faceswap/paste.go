package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// PasteRegion returns the frame rectangle [x1,x2)×[y1,y2) a size×size crop covers
// once mapped back by the inverse of m: the four crop corners are transformed,
// floored/ceiled and clipped to the frame (FaceFusion calculate_paste_area). Only
// this rectangle is warped and blended, which keeps paste-back cost proportional to
// the face, not the frame.
func PasteRegion(m Affine, size, frameW, frameH int) (x1, y1, x2, y2 int, ok bool) {
	inv, ok := m.Invert()
	if !ok {
		return 0, 0, 0, 0, false
	}
	s := float64(size)
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{0, 0}, {s, 0}, {s, s}, {0, s}} {
		x, y := inv.apply64(c[0], c[1])
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	clip := func(v float64, hi int) int {
		if v < 0 || math.IsNaN(v) {
			return 0
		}
		if v > float64(hi) {
			return hi
		}
		return int(v)
	}
	x1, y1 = clip(math.Floor(minX), frameW), clip(math.Floor(minY), frameH)
	x2, y2 = clip(math.Ceil(maxX), frameW), clip(math.Ceil(maxY), frameH)
	return x1, y1, x2, y2, x2 > x1 && y2 > y1
}

// PasteBack blends a swapped crop into frame in place (FaceFusion paste_back):
// crop is size×size interleaved RGB floats in [0,255], mask is size×size in [0,1],
// and m is the transform that produced the crop from frame. Within the paste region
// the crop is warped back with BORDER_REPLICATE and the mask with a zero border,
// then out = frame·(1−m) + crop·m.
//
// FaceFusion truncates the blended floats to uint8; this rounds instead, which
// avoids darkening every blended pixel by half a level on average. Pixels where the
// warped mask is exactly 0 (everything outside the crop) are left untouched.
func PasteBack(frame media.Frame, crop []float32, mask []float32, size int, m Affine) {
	x1, y1, x2, y2, ok := PasteRegion(m, size, frame.Width, frame.Height)
	if !ok {
		return
	}
	// warpFloat wants the dst→src map, here region → crop. Region pixel (x, y) is
	// frame pixel (x+x1, y+y1), and m maps frame to crop, so compose m with that
	// shift (the same as FaceFusion's paste matrix: the inverse with (x1, y1)
	// subtracted from its translation, inverted again by warpAffine).
	toCrop := m
	toCrop[2] += m[0]*float64(x1) + m[1]*float64(y1)
	toCrop[5] += m[3]*float64(x1) + m[4]*float64(y1)
	pw, ph := x2-x1, y2-y1
	warped := warpFloat(crop, size, size, 3, toCrop, pw, ph, true)
	wmask := warpFloat(mask, size, size, 1, toCrop, pw, ph, false)
	pix := frame.Pix
	for y := 0; y < ph; y++ {
		row := ((y+y1)*frame.Width + x1) * 3
		for x := 0; x < pw; x++ {
			a := wmask[y*pw+x]
			if a <= 0 {
				continue
			}
			if a > 1 {
				a = 1
			}
			p := row + x*3
			s := warped[(y*pw+x)*3:]
			for c := 0; c < 3; c++ {
				v := float32(pix[p+c])*(1-a) + s[c]*a
				pix[p+c] = clampByte(v)
			}
		}
	}
}

func clampByte(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}
