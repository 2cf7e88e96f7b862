package faceswap

import "math"

// BoxMask returns FaceFusion's default "box" paste mask for a size×size crop
// (create_box_mask, facts §6.1), row-major, values in [0,1]:
//
//	b = int(size·0.5·blur), a = max(b/2, 1)
//	zero max(a, padding%·size) rows/columns on each side (top, right, bottom, left)
//	Gaussian blur with σ = 0.25·b when b > 0
//
// The zeroed border plus the blur fade the swapped face into the frame instead of
// leaving the crop's square edge visible. For size 128 and blur 0.3: b = 19, a = 9,
// σ = 4.75.
func BoxMask(size int, blur float64, padding [4]float64) []float32 {
	m := make([]float32, size*size)
	for i := range m {
		m[i] = 1
	}
	b := int(float64(size) * 0.5 * blur)
	a := max(b/2, 1)
	edge := func(pct float64) int {
		return min(max(a, int(float64(size)*pct/100)), size)
	}
	top, right, bottom, left := edge(padding[0]), edge(padding[1]), edge(padding[2]), edge(padding[3])
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if y < top || y >= size-bottom || x < left || x >= size-right {
				m[y*size+x] = 0
			}
		}
	}
	if b > 0 {
		gaussianBlur(m, size, size, 0.25*float64(b))
	}
	return m
}

// gaussianKernel reproduces cv2.getGaussianKernel for a float image with ksize
// derived from sigma as cv2.GaussianBlur(…, (0, 0), sigma) does for CV_32F:
// ksize = round(sigma·8 + 1) | 1.
func gaussianKernel(sigma float64) []float32 {
	n := int(math.Round(sigma*8+1)) | 1
	k := make([]float64, n)
	c := float64(n-1) / 2
	var sum float64
	for i := range k {
		d := float64(i) - c
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	out := make([]float32, n)
	for i := range k {
		out[i] = float32(k[i] / sum)
	}
	return out
}

// gaussianBlur blurs a single-channel image in place, separably, with OpenCV's
// default BORDER_REFLECT_101 (…2 1 | 0 1 2 … w−1 | w−2 …).
func gaussianBlur(img []float32, w, h int, sigma float64) {
	k := gaussianKernel(sigma)
	r := len(k) / 2
	tmp := make([]float32, len(img))
	line := make([]float32, max(w, h)+2*r)
	// Rows.
	for y := 0; y < h; y++ {
		row := img[y*w : (y+1)*w]
		for i := range w + 2*r {
			line[i] = row[reflect101(i-r, w)]
		}
		for x := 0; x < w; x++ {
			var s float32
			for j, kv := range k {
				s += kv * line[x+j]
			}
			tmp[y*w+x] = s
		}
	}
	// Columns.
	for x := 0; x < w; x++ {
		for i := range h + 2*r {
			line[i] = tmp[reflect101(i-r, h)*w+x]
		}
		for y := 0; y < h; y++ {
			var s float32
			for j, kv := range k {
				s += kv * line[y+j]
			}
			img[y*w+x] = s
		}
	}
}

func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
	}
	return i
}

// Mouth region shape, in units of the mouth width d (the distance between the two
// mouth-corner landmarks), measured from the corners' midpoint along the mouth
// (s) and across it, positive towards the chin (t). The region is the half-ellipse
// pair s²/a² + t²/b² ≤ 1 with b = mouthUp above the corner line and mouthDown
// below it: the lower lip hangs further below the corners than the upper lip rises
// above them. a reaches a quarter of d beyond each corner.
const (
	mouthAlong   = 0.75 // a
	mouthUp      = 0.45 // b above the corner line
	mouthDown    = 0.60 // b below it
	mouthFeather = 0.10 // Gaussian σ of the feather
	mouthCore    = 0.95 // blurred values from here up become exactly 1
)

// MouthMask returns the "keep the target's mouth" mask for a size×size crop,
// row-major in [0,1]: 1 over the mouth, 0 away from it. left and right are the
// mouth-corner landmarks (5-point indexes 3 and 4) in crop pixels. The region is
// an ellipse spanning the corners with a margin, extended towards the chin for the
// lower lip (see the mouth* constants), and its edge is feathered with a Gaussian
// blur (σ = 0.1·mouth width) so the original mouth fades into the swapped face;
// values the blur leaves above 0.95 are set to exactly 1.
//
// The paste mask with the mouth kept is box·(1 − mouth): 0 (original pixels)
// where the mouth is, the box mask elsewhere. This plays the role of
// Deep-Live-Cam's --mouth-mask, which needs 106-point lip landmarks; with only
// the 5-point set the mouth corners are what is known.
func MouthMask(size int, left, right Point) []float32 {
	m := make([]float32, size*size)
	x0, y0, w, h, sub := mouthRegion(size, left, right)
	for y := 0; y < h; y++ {
		copy(m[(y0+y)*size+x0:(y0+y)*size+x0+w], sub[y*w:(y+1)*w])
	}
	return m
}

// keepMouth multiplies the size×size mask dst by (1 − MouthMask), touching only
// the rectangle the mouth region covers.
func keepMouth(dst []float32, size int, left, right Point) {
	x0, y0, w, h, sub := mouthRegion(size, left, right)
	for y := 0; y < h; y++ {
		row := dst[(y0+y)*size+x0 : (y0+y)*size+x0+w]
		for x, v := range sub[y*w : (y+1)*w] {
			row[x] *= 1 - v
		}
	}
}

// mouthRegion rasterises and feathers the mouth region on the smallest rectangle
// of the crop that holds it (the ellipse's bounding box plus the blur's reach),
// so building it costs in proportion to the mouth, not the crop.
func mouthRegion(size int, left, right Point) (x0, y0, w, h int, m []float32) {
	lx, ly, rx, ry := float64(left.X), float64(left.Y), float64(right.X), float64(right.Y)
	d := math.Hypot(rx-lx, ry-ly)
	if d < 1 || math.IsNaN(d) || math.IsInf(d, 0) {
		return 0, 0, 0, 0, nil
	}
	ux, uy := (rx-lx)/d, (ry-ly)/d // along the mouth
	vx, vy := -uy, ux              // across it, towards the chin (y grows downwards)
	cx, cy := (lx+rx)/2, (ly+ry)/2
	a, bUp, bDown := mouthAlong*d, mouthUp*d, mouthDown*d
	sigma := mouthFeather * d
	reach := float64(len(gaussianKernel(sigma))/2 + 1)
	ext := math.Max(a, bDown) + reach
	clip := func(v float64) int { return min(max(int(math.Floor(v)), 0), size) }
	x0, x1 := clip(cx-ext), clip(cx+ext+1)
	y0, y1 := clip(cy-ext), clip(cy+ext+1)
	w, h = x1-x0, y1-y0
	if w <= 0 || h <= 0 {
		return 0, 0, 0, 0, nil
	}
	m = make([]float32, w*h)
	for y := 0; y < h; y++ {
		py := float64(y0+y) - cy
		for x := 0; x < w; x++ {
			px := float64(x0+x) - cx
			s, t := px*ux+py*uy, px*vx+py*vy
			b := bDown
			if t < 0 {
				b = bUp
			}
			if (s*s)/(a*a)+(t*t)/(b*b) <= 1 {
				m[y*w+x] = 1
			}
		}
	}
	// The rectangle reaches past the ellipse by more than the kernel radius
	// wherever it is not clipped by the crop, so blurring it alone (with its
	// reflected border) equals blurring the whole crop.
	gaussianBlur(m, w, h, sigma)
	// Stretch so the inside of the region is exactly 1 rather than 0.99…: there
	// the paste mask is exactly 0 and the target's pixels come through untouched.
	for i, v := range m {
		m[i] = min(v/mouthCore, 1)
	}
	return x0, y0, w, h, m
}
