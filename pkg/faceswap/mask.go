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
