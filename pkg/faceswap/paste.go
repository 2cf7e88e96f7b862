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
	pasteBack(frame, crop, mask, size, m, 1)
}

// pasteBack is PasteBack with the mask scaled by alpha in [0,1]. Blending a
// pasted frame with the original, out = orig·(1−α) + pasted·α (FaceFusion's
// enhancer blend), is the same as pasting through the mask α·m, which saves a copy
// of the frame and a full-frame pass.
func pasteBack(frame media.Frame, crop []float32, mask []float32, size int, m Affine, alpha float32) {
	if alpha <= 0 {
		return
	}
	x1, y1, x2, y2, ok := PasteRegion(m, size, frame.Width, frame.Height)
	if !ok {
		return
	}
	// Sampling needs the dst→src map, here region → crop. Region pixel (x, y) is
	// frame pixel (x+x1, y+y1), and m maps frame to crop, so compose m with that
	// shift (the same as FaceFusion's paste matrix: the inverse with (x1, y1)
	// subtracted from its translation, inverted again by warpAffine).
	toCrop := m
	toCrop[2] += m[0]*float64(x1) + m[1]*float64(y1)
	toCrop[5] += m[3]*float64(x1) + m[4]*float64(y1)
	// One fused pass per region pixel: the mask is sampled first (zero border),
	// and the crop (replicate border) only where the mask is non-zero. This is the
	// same arithmetic as warping both images and blending, without the two
	// region-sized intermediate buffers.
	//
	// Positions step along each row in 16.16 fixed point (see warpNCHW); the
	// weights and blend are float32.
	pix := frame.Pix
	const fpOne = 1 << 16
	stepX, stepY := int64(math.Round(toCrop[0]*fpOne)), int64(math.Round(toCrop[3]*fpOne))
	inBands(y1, y2, x2-x1, func(ya, yb int) {
		pasteRows(pix, frame.Width, x1, x2, y1, ya, yb, toCrop, stepX, stepY, crop, mask, size, alpha)
	})
}

// pasteRows is pasteBack's blend over the frame rows [ya, yb) of its region
// [x1,x2)×[y1,…); rows are independent, so bands of them run concurrently.
func pasteRows(pix []byte, width, x1, x2, y1, ya, yb int, toCrop Affine, stepX, stepY int64, crop, mask []float32, size int, alpha float32) {
	const fp = 16
	const fpOne = 1 << fp
	const inv = 1.0 / fpOne
	for y := ya; y < yb; y++ {
		fy := float64(y - y1)
		bx := toCrop[1]*fy + toCrop[2]
		by := toCrop[4]*fy + toCrop[5]
		if math.Abs(bx) > 1<<40 || math.Abs(by) > 1<<40 || math.IsNaN(bx+by) {
			continue
		}
		px, py := int64(math.Round(bx*fpOne)), int64(math.Round(by*fpOne))
		row := pix[(y*width+x1)*3 : (y*width+x2)*3]
		for x := 0; x < len(row); x += 3 {
			x0, y0 := int(px>>fp), int(py>>fp)
			ax, ay := float32(px&(fpOne-1))*inv, float32(py&(fpOne-1))*inv
			px += stepX
			py += stepY
			if x0 < -1 || y0 < -1 || x0 >= size || y0 >= size {
				continue // all four mask taps lie outside the crop
			}
			var a float32
			inside := uint(x0) < uint(size-1) && uint(y0) < uint(size-1)
			if inside {
				i := y0*size + x0
				m := mask[i : i+size+2 : i+size+2]
				a = (m[0]*(1-ax)+m[1]*ax)*(1-ay) + (m[size]*(1-ax)+m[size+1]*ax)*ay
			} else {
				a = bilinearZero(mask, size, x0, y0, ax, ay)
			}
			a *= alpha
			if a <= 0 {
				continue
			}
			if a > 1 {
				a = 1
			}
			var i00, i01, i10, i11 int
			if inside {
				i00 = (y0*size + x0) * 3
				i01, i10 = i00+3, i00+size*3
				i11 = i10 + 3
			} else {
				cx0, cx1 := clampInt(x0, size-1), clampInt(x0+1, size-1)
				cy0, cy1 := clampInt(y0, size-1), clampInt(y0+1, size-1)
				i00, i01 = (cy0*size+cx0)*3, (cy0*size+cx1)*3
				i10, i11 = (cy1*size+cx0)*3, (cy1*size+cx1)*3
			}
			c00, c01, c10, c11 := crop[i00:i00+3:i00+3], crop[i01:i01+3:i01+3], crop[i10:i10+3:i10+3], crop[i11:i11+3:i11+3]
			w00, w01, w10, w11 := (1-ax)*(1-ay), ax*(1-ay), (1-ax)*ay, ax*ay
			p := row[x : x+3 : x+3]
			b := 1 - a
			p[0] = clampByte(float32(p[0])*b + (c00[0]*w00+c01[0]*w01+c10[0]*w10+c11[0]*w11)*a)
			p[1] = clampByte(float32(p[1])*b + (c00[1]*w00+c01[1]*w01+c10[1]*w10+c11[1]*w11)*a)
			p[2] = clampByte(float32(p[2])*b + (c00[2]*w00+c01[2]*w01+c10[2]*w10+c11[2]*w11)*a)
		}
	}
}

// bilinearZero samples a single-channel size×size image at (x0+ax, y0+ay) with
// taps outside the image reading as 0 (BORDER_CONSTANT).
func bilinearZero(img []float32, size, x0, y0 int, ax, ay float32) float32 {
	tap := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= size || y >= size {
			return 0
		}
		return img[y*size+x]
	}
	return (tap(x0, y0)*(1-ax)+tap(x0+1, y0)*ax)*(1-ay) + (tap(x0, y0+1)*(1-ax)+tap(x0+1, y0+1)*ax)*ay
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
