package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// Blurring unmapped faces (issue #10, unmapped: blur). The face is replaced by a
// very coarse version of itself: the region around its box is averaged down to
// blurCells cells across, then interpolated back up (bilinear between cell
// centres, so there are no mosaic edges), and blended in through a feathered
// ellipse. With six cells across a face no eye, nose or mouth survives — a
// recogniser sees a skin-coloured blob — and unlike a Gaussian blur of any
// practical radius it cannot be partly undone by deconvolution. The feathered
// ellipse follows the face's shape and fades into the untouched surroundings
// instead of leaving a hard-edged rectangle.
const (
	blurCells   = 6    // cells across the blurred region's long side
	blurGrow    = 0.3  // the region is the box grown by this fraction on each side
	blurFeather = 0.25 // the outer fraction of the ellipse's radius that fades out
)

// BlurFace blurs face's region of frame in place, beyond recognition.
func BlurFace(frame media.Frame, face Face) {
	bw, bh := float64(face.Box[2]-face.Box[0]), float64(face.Box[3]-face.Box[1])
	if bw <= 0 || bh <= 0 {
		return
	}
	fx1, fy1 := float64(face.Box[0])-blurGrow*bw, float64(face.Box[1])-blurGrow*bh
	fx2, fy2 := float64(face.Box[2])+blurGrow*bw, float64(face.Box[3])+blurGrow*bh
	x1, y1 := max(int(math.Floor(fx1)), 0), max(int(math.Floor(fy1)), 0)
	x2, y2 := min(int(math.Ceil(fx2)), frame.Width), min(int(math.Ceil(fy2)), frame.Height)
	w, h := x2-x1, y2-y1
	if w < 2 || h < 2 {
		return
	}
	// Cell grid over the clipped region.
	cell := math.Max(fx2-fx1, fy2-fy1) / blurCells
	nx, ny := max(int(math.Ceil(float64(w)/cell)), 1), max(int(math.Ceil(float64(h)/cell)), 1)
	sums := make([]float64, nx*ny*3)
	counts := make([]float64, nx*ny)
	for y := y1; y < y2; y++ {
		cy := min(int(float64(y-y1)/cell), ny-1)
		for x := x1; x < x2; x++ {
			cx := min(int(float64(x-x1)/cell), nx-1)
			p := frame.Pix[(y*frame.Width+x)*3:]
			c := cy*nx + cx
			sums[c*3] += float64(p[0])
			sums[c*3+1] += float64(p[1])
			sums[c*3+2] += float64(p[2])
			counts[c]++
		}
	}
	for c, n := range counts {
		if n > 0 {
			sums[c*3] /= n
			sums[c*3+1] /= n
			sums[c*3+2] /= n
		}
	}
	at := func(cx, cy, ch int) float64 {
		cx, cy = min(max(cx, 0), nx-1), min(max(cy, 0), ny-1)
		return sums[(cy*nx+cx)*3+ch]
	}
	// The ellipse inscribed in the grown box.
	ecx, ecy := (fx1+fx2)/2, (fy1+fy2)/2
	rx, ry := (fx2-fx1)/2, (fy2-fy1)/2
	for y := y1; y < y2; y++ {
		gy := (float64(y-y1)+0.5)/cell - 0.5
		iy := int(math.Floor(gy))
		ty := gy - float64(iy)
		for x := x1; x < x2; x++ {
			dx, dy := (float64(x)+0.5-ecx)/rx, (float64(y)+0.5-ecy)/ry
			r := math.Hypot(dx, dy)
			if r >= 1 {
				continue
			}
			alpha := 1.0
			if r > 1-blurFeather {
				alpha = (1 - r) / blurFeather
			}
			gx := (float64(x-x1)+0.5)/cell - 0.5
			ix := int(math.Floor(gx))
			tx := gx - float64(ix)
			p := frame.Pix[(y*frame.Width+x)*3:]
			for ch := 0; ch < 3; ch++ {
				v := (1-ty)*((1-tx)*at(ix, iy, ch)+tx*at(ix+1, iy, ch)) + ty*((1-tx)*at(ix, iy+1, ch)+tx*at(ix+1, iy+1, ch))
				p[ch] = uint8(math.Round(alpha*v + (1-alpha)*float64(p[ch])))
			}
		}
	}
}
