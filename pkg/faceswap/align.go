package faceswap

import "math"

// Point is an image position in pixels (x right, y down).
type Point struct{ X, Y float32 }

// Template is a 5-point face template in coordinates normalised to the crop size,
// ordered like SCRFD's keypoints: left eye (image-left), right eye, nose, left mouth
// corner, right mouth corner.
type Template [5]Point

// Templates from FaceFusion's WARP_TEMPLATE_SET (facts §3.1). ArcFace112V2 × 112 is
// InsightFace's arcface_dst and ArcFace128 × 128 is arcface_dst shifted 8 px right,
// i.e. what InsightFace's norm_crop uses for inswapper.
var (
	// ArcFace112V2 aligns faces for the recognizer (112×112).
	ArcFace112V2 = Template{
		{0.34191607, 0.46157411}, {0.65653393, 0.45983393}, {0.50022500, 0.64050536},
		{0.37097589, 0.82469196}, {0.63151696, 0.82325089},
	}
	// ArcFace128 aligns faces for inswapper (128×128).
	ArcFace128 = Template{
		{0.36167656, 0.40387734}, {0.63696719, 0.40235469}, {0.50019687, 0.56044219},
		{0.38710391, 0.72160547}, {0.61507734, 0.72034453},
	}
	// FFHQ512 aligns faces for the GFPGAN/CodeFormer enhancers (512×512).
	FFHQ512 = Template{
		{0.37691676, 0.46864664}, {0.62285697, 0.46912813}, {0.50123859, 0.61331904},
		{0.39308822, 0.72541100}, {0.61150205, 0.72490465},
	}
)

// Scaled returns the template in pixels for a square crop of the given size.
func (t Template) Scaled(size int) [5]Point {
	var p [5]Point
	for i, q := range t {
		p[i] = Point{q.X * float32(size), q.Y * float32(size)}
	}
	return p
}

// Affine is a 2×3 matrix [A B C; D E F] mapping (x, y) to (Ax+By+C, Dx+Ey+F), the
// same layout as OpenCV's warpAffine matrices.
type Affine [6]float64

// Apply maps p through m.
func (m Affine) Apply(p Point) Point {
	x, y := float64(p.X), float64(p.Y)
	return Point{float32(m[0]*x + m[1]*y + m[2]), float32(m[3]*x + m[4]*y + m[5])}
}

func (m Affine) apply64(x, y float64) (float64, float64) {
	return m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]
}

// Invert returns the inverse transform (cv2.invertAffineTransform); ok is false
// for a singular matrix.
func (m Affine) Invert() (inv Affine, ok bool) {
	det := m[0]*m[4] - m[1]*m[3]
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return Affine{}, false
	}
	a, b, c, d, e, f := m[4]/det, -m[1]/det, 0.0, -m[3]/det, m[0]/det, 0.0
	c = -(a*m[2] + b*m[5])
	f = -(d*m[2] + e*m[5])
	return Affine{a, b, c, d, e, f}, true
}

// Umeyama returns the least-squares similarity transform (rotation, uniform scale,
// translation: 4 degrees of freedom, no reflection) mapping src onto dst, as
// skimage's SimilarityTransform.estimate does for InsightFace. For 2-D points it has
// a closed form: writing the linear part as [a −b; b a] and centring both point
// sets, a = Σ(x·u + y·v)/Σ(x²+y²) and b = Σ(x·v − y·u)/Σ(x²+y²). This equals
// Umeyama's SVD solution, including its handling of a negative determinant.
//
// FaceFusion uses cv2.estimateAffinePartial2D with RANSAC at a 100 px threshold,
// which on five face landmarks keeps every point and refines to this same fit.
func Umeyama(src, dst []Point) Affine {
	n := len(src)
	if n == 0 || n != len(dst) {
		return Affine{1, 0, 0, 0, 1, 0}
	}
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	fn := float64(n)
	msx, msy, mdx, mdy = msx/fn, msy/fn, mdx/fn, mdy/fn
	var num1, num2, den float64
	for i := range src {
		x, y := float64(src[i].X)-msx, float64(src[i].Y)-msy
		u, v := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		num1 += x*u + y*v
		num2 += x*v - y*u
		den += x*x + y*y
	}
	if den == 0 {
		return Affine{1, 0, mdx - msx, 0, 1, mdy - msy}
	}
	a, b := num1/den, num2/den
	return Affine{
		a, -b, mdx - (a*msx - b*msy),
		b, a, mdy - (b*msx + a*msy),
	}
}

// AlignTransform returns the similarity mapping a face's five landmarks onto
// template t scaled to a size×size crop (the matrix warpAffine takes).
func AlignTransform(landmarks [5]Point, t Template, size int) Affine {
	dst := t.Scaled(size)
	return Umeyama(landmarks[:], dst[:])
}
