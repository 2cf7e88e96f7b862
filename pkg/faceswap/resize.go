package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// Fixed-point bilinear weights, as OpenCV's 8-bit resize uses: 11 fractional
// bits per axis, 22 after both passes.
const (
	resizeBits  = 11
	resizeScale = 1 << resizeBits
)

// resizeInto fills the w×h NCHW blob: the frame resized to nw×nh at the top-left,
// zero pixels elsewhere, each value v·scale + offset (v the uint8 pixel), channels
// reversed when bgr. The resize is cv2.resize(INTER_LINEAR) for 8-bit images:
// half-pixel centres, edge clamp, 11-bit fixed-point weights, separable (each
// source row is interpolated horizontally once, however many output rows use it),
// and the result rounded to uint8 like the image OpenCV makes. A frame already
// nw×nh is copied without resampling. Normalisation is a 256-entry table.
func resizeInto(frame media.Frame, blob []float32, w, h, nw, nh int, bgr bool, scale, offset float32) {
	plane := w * h
	var lut [256]float32
	for v := range lut {
		lut[v] = float32(v)*scale + offset
	}
	// Only the padding needs the zero value; the rest is overwritten.
	for c := 0; c < 3; c++ {
		p := blob[c*plane : (c+1)*plane]
		for y := 0; y < nh; y++ {
			row := p[y*w+nw : (y+1)*w]
			for i := range row {
				row[i] = offset
			}
		}
		rest := p[nh*w:]
		for i := range rest {
			rest[i] = offset
		}
	}
	ch0, ch2 := blob[:plane], blob[2*plane:3*plane]
	if bgr {
		ch0, ch2 = ch2, ch0
	}
	ch1 := blob[plane : 2*plane]
	pix := frame.Pix
	sw := frame.Width
	if nw == frame.Width && nh == frame.Height {
		for y := 0; y < nh; y++ {
			row := pix[y*sw*3 : (y+1)*sw*3]
			o0, o1, o2 := ch0[y*w:y*w+nw], ch1[y*w:y*w+nw], ch2[y*w:y*w+nw]
			for x := range o0 {
				o0[x], o1[x], o2[x] = lut[row[x*3]], lut[row[x*3+1]], lut[row[x*3+2]]
			}
		}
		return
	}
	xs0, xs1, xa := resizeTaps(frame.Width, nw)
	ys0, ys1, yfrac := resizeTaps(frame.Height, nh)
	xo0, xo1, xw := make([]int, nw), make([]int, nw), make([]int32, nw)
	for x := range nw {
		xo0[x], xo1[x] = xs0[x]*3, xs1[x]*3
		xw[x] = int32(xa[x]*resizeScale + 0.5)
	}
	// hrow interpolates source row sy horizontally into buf (3 values per pixel).
	hrow := func(sy int, buf []int32) {
		src := pix[sy*sw*3 : (sy+1)*sw*3]
		for x := range nw {
			a, b, f := xo0[x], xo1[x], xw[x]
			g := resizeScale - f
			buf[x*3] = int32(src[a])*g + int32(src[b])*f
			buf[x*3+1] = int32(src[a+1])*g + int32(src[b+1])*f
			buf[x*3+2] = int32(src[a+2])*g + int32(src[b+2])*f
		}
	}
	const round = 1 << (2*resizeBits - 1)
	// Bands of output rows run concurrently (inBands); each keeps its own two
	// horizontally interpolated source rows.
	inBands(0, nh, nw, func(ya, yb int) {
		h0, h1 := make([]int32, nw*3), make([]int32, nw*3)
		row0, row1 := -1, -1
		for y := ya; y < yb; y++ {
			r0, r1 := ys0[y], ys1[y]
			if r0 == row1 { // moving down: the old second row is the new first
				h0, h1, row0, row1 = h1, h0, row1, row0
			}
			if r0 != row0 {
				hrow(r0, h0)
				row0 = r0
			}
			if r1 != row1 {
				hrow(r1, h1)
				row1 = r1
			}
			fy := int32(yfrac[y]*resizeScale + 0.5)
			gy := resizeScale - fy
			o0, o1, o2 := ch0[y*w:y*w+nw], ch1[y*w:y*w+nw], ch2[y*w:y*w+nw]
			for x := range o0 {
				i := x * 3
				v0 := (h0[i]*gy + h1[i]*fy + round) >> (2 * resizeBits)
				v1 := (h0[i+1]*gy + h1[i+1]*fy + round) >> (2 * resizeBits)
				v2 := (h0[i+2]*gy + h1[i+2]*fy + round) >> (2 * resizeBits)
				o0[x], o1[x], o2[x] = lut[uint8(v0)], lut[uint8(v1)], lut[uint8(v2)]
			}
		}
	})
}

// resizeTaps returns, for each destination index, the two source indices and the
// weight of the second, with OpenCV's mapping src = (dst + 0.5)·(in/out) − 0.5.
func resizeTaps(in, out int) (i0, i1 []int, frac []float32) {
	i0, i1, frac = make([]int, out), make([]int, out), make([]float32, out)
	scale := float64(in) / float64(out)
	for d := 0; d < out; d++ {
		s := (float64(d)+0.5)*scale - 0.5
		f := math.Floor(s)
		a := s - f
		k := int(f)
		if k < 0 {
			k, a = 0, 0
		}
		if k >= in-1 {
			k, a = in-1, 0
		}
		i0[d], i1[d], frac[d] = k, min(k+1, in-1), float32(a)
	}
	return i0, i1, frac
}
