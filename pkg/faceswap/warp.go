package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// WarpFrame warps src into a new w×h frame with the affine m (mapping src pixel
// coordinates to dst, OpenCV convention), bilinear with BORDER_REPLICATE: the
// flags FaceFusion uses for every crop (its INTER_AREA becomes INTER_LINEAR inside
// warpAffine). A replicated border keeps faces near the frame edge from being cut
// with black, which the swapper and recognizer would otherwise see as content.
func WarpFrame(src media.Frame, m Affine, w, h int) media.Frame {
	dst := media.NewFrame(w, h)
	inv, ok := m.Invert()
	if !ok || src.Width == 0 || src.Height == 0 {
		return dst
	}
	sw, sh := src.Width, src.Height
	sp := src.Pix
	out := dst.Pix
	for y := 0; y < h; y++ {
		// Source position of (0, y), stepped by (inv[0], inv[3]) along the row.
		fx := inv[1]*float64(y) + inv[2]
		fy := inv[4]*float64(y) + inv[5]
		o := y * w * 3
		for x := 0; x < w; x++ {
			sx := fx + inv[0]*float64(x)
			sy := fy + inv[3]*float64(x)
			x0, y0 := floorFrac(sx), floorFrac(sy)
			ax, ay := sx-float64(x0), sy-float64(y0)
			x1, y1 := clampInt(x0+1, sw-1), clampInt(y0+1, sh-1)
			x0, y0 = clampInt(x0, sw-1), clampInt(y0, sh-1)
			r0, r1 := y0*sw*3, y1*sw*3
			p00, p01 := r0+x0*3, r0+x1*3
			p10, p11 := r1+x0*3, r1+x1*3
			w00 := (1 - ax) * (1 - ay)
			w01 := ax * (1 - ay)
			w10 := (1 - ax) * ay
			w11 := ax * ay
			for c := 0; c < 3; c++ {
				v := w00*float64(sp[p00+c]) + w01*float64(sp[p01+c]) + w10*float64(sp[p10+c]) + w11*float64(sp[p11+c])
				out[o+c] = uint8(v + 0.5)
			}
			o += 3
		}
	}
	return dst
}

// warpNCHW is WarpFrame followed by a conversion to a planar float tensor, fused:
// it writes the size×size crop of src under m straight into dst (3·size² values,
// channel planes R, G, B) as v·scale + offset, where v is the bilinear sample
// rounded to uint8. It saves the intermediate frame and a pass over it for every
// model input, and interpolates in fixed point: source positions are exact
// (float64), the bilinear weights are quantised to 1/2048 (OpenCV's warpAffine
// quantises positions to 1/32 pixel), so v is within one level of WarpFrame's.
func warpNCHW(src media.Frame, m Affine, size int, dst []float32, scale, offset float32) {
	plane := size * size
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	inv, ok := m.Invert()
	if !ok || src.Width == 0 || src.Height == 0 {
		for i := range dst[:3*plane] {
			dst[i] = offset
		}
		return
	}
	var lut [256]float32
	for v := range lut {
		lut[v] = float32(v)*scale + offset
	}
	sw, sh := src.Width, src.Height
	sp := src.Pix
	const bits = resizeBits
	const one = 1 << bits
	const round = 1 << (2*bits - 1)
	// Source positions in 16.16 fixed point, stepped along each row: exact to
	// 1/65536 pixel per step, so at most 512/65536 pixel off at the far end of a
	// 512 px row (OpenCV's warpAffine keeps 1/1024).
	const fp = 16
	const fpOne = 1 << fp
	stepX, stepY := int64(math.Round(inv[0]*fpOne)), int64(math.Round(inv[3]*fpOne))
	limit := float64(int64(1) << 40)
	for y := 0; y < size; y++ {
		fx := inv[1]*float64(y) + inv[2]
		fy := inv[4]*float64(y) + inv[5]
		if math.Abs(fx) > limit || math.Abs(fy) > limit || math.IsNaN(fx+fy) {
			fx, fy = 0, 0 // absurd transform: sample the corner rather than overflow
		}
		px, py := int64(math.Round(fx*fpOne)), int64(math.Round(fy*fpOne))
		o := y * size
		rr, gg, bb := r[o:o+size], g[o:o+size], b[o:o+size]
		for x := range rr {
			x0, y0 := int(px>>fp), int(py>>fp)
			ax := int32((px >> (fp - bits)) & (one - 1))
			ay := int32((py >> (fp - bits)) & (one - 1))
			px += stepX
			py += stepY
			var p00, p01, p10, p11 int
			if uint(x0) < uint(sw-1) && uint(y0) < uint(sh-1) {
				p00 = (y0*sw + x0) * 3
				p01, p10 = p00+3, p00+sw*3
				p11 = p10 + 3
			} else {
				x1, y1 := clampInt(x0+1, sw-1), clampInt(y0+1, sh-1)
				cx, cy := clampInt(x0, sw-1), clampInt(y0, sh-1)
				p00, p01 = (cy*sw+cx)*3, (cy*sw+x1)*3
				p10, p11 = (y1*sw+cx)*3, (y1*sw+x1)*3
			}
			w00 := (one - ax) * (one - ay)
			w01 := ax * (one - ay)
			w10 := (one - ax) * ay
			w11 := ax * ay
			q00, q01, q10, q11 := sp[p00:p00+3:p00+3], sp[p01:p01+3:p01+3], sp[p10:p10+3:p10+3], sp[p11:p11+3:p11+3]
			vr := (int32(q00[0])*w00 + int32(q01[0])*w01 + int32(q10[0])*w10 + int32(q11[0])*w11 + round) >> (2 * bits)
			vg := (int32(q00[1])*w00 + int32(q01[1])*w01 + int32(q10[1])*w10 + int32(q11[1])*w11 + round) >> (2 * bits)
			vb := (int32(q00[2])*w00 + int32(q01[2])*w01 + int32(q10[2])*w10 + int32(q11[2])*w11 + round) >> (2 * bits)
			rr[x], gg[x], bb[x] = lut[uint8(vr)], lut[uint8(vg)], lut[uint8(vb)]
		}
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

func clampInt(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}
