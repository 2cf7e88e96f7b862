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
//
// Interpolation is fixed point: source positions step in 16.16 (exact to 1/65536
// pixel per step; OpenCV's warpAffine keeps 1/1024) and the bilinear weights have
// 11 bits each, as OpenCV's 8-bit resize uses; results are rounded to uint8.
func WarpFrame(src media.Frame, m Affine, w, h int) media.Frame {
	dst := media.NewFrame(w, h)
	inv, ok := m.Invert()
	if !ok || src.Width == 0 || src.Height == 0 {
		return dst
	}
	for y := 0; y < h; y++ {
		warpRow(src, inv, y, dst.Pix[y*w*3:(y+1)*w*3])
	}
	return dst
}

// warpNCHW is WarpFrame followed by a conversion to a planar float tensor, fused:
// it writes the size×size crop of src under m straight into dst (3·size² values,
// channel planes R, G, B) as v·scale + offset, v being WarpFrame's pixel value.
// It saves the intermediate frame and a pass over it for every model input; the
// normalisation is a 256-entry table.
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
	row := make([]uint8, size*3)
	for y := 0; y < size; y++ {
		warpRow(src, inv, y, row)
		o := y * size
		rr, gg, bb := r[o:o+size], g[o:o+size], b[o:o+size]
		for x := range rr {
			rr[x], gg[x], bb[x] = lut[row[x*3]], lut[row[x*3+1]], lut[row[x*3+2]]
		}
	}
}

// warpRow samples destination row y of a warp whose destination→source map is
// inv into out (len(out)/3 pixels, interleaved RGB): bilinear, replicate border,
// fixed point (see WarpFrame).
func warpRow(src media.Frame, inv Affine, y int, out []uint8) {
	sw, sh := src.Width, src.Height
	sp := src.Pix
	const bits = resizeBits
	const one = 1 << bits
	const round = 1 << (2*bits - 1)
	const fp = 16
	const fpOne = 1 << fp
	fx := inv[1]*float64(y) + inv[2]
	fy := inv[4]*float64(y) + inv[5]
	const limit = 1 << 40
	if math.Abs(fx) > limit || math.Abs(fy) > limit || math.IsNaN(fx+fy) ||
		math.Abs(inv[0]) > limit || math.Abs(inv[3]) > limit || math.IsNaN(inv[0]+inv[3]) {
		fx, fy = 0, 0 // absurd transform: sample the corner rather than overflow
	}
	px, py := int64(math.Round(fx*fpOne)), int64(math.Round(fy*fpOne))
	stepX, stepY := int64(math.Round(inv[0]*fpOne)), int64(math.Round(inv[3]*fpOne))
	for x := 0; x+2 < len(out); x += 3 {
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
		o := out[x : x+3 : x+3]
		o[0] = uint8((int32(q00[0])*w00 + int32(q01[0])*w01 + int32(q10[0])*w10 + int32(q11[0])*w11 + round) >> (2 * bits))
		o[1] = uint8((int32(q00[1])*w00 + int32(q01[1])*w01 + int32(q10[1])*w10 + int32(q11[1])*w11 + round) >> (2 * bits))
		o[2] = uint8((int32(q00[2])*w00 + int32(q01[2])*w01 + int32(q10[2])*w10 + int32(q11[2])*w11 + round) >> (2 * bits))
	}
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
