package faceswap

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
	ort "github.com/yalue/onnxruntime_go"
)

// Landmarker models (FaceFusion's face_landmarker.py): 2dfan4 finds 68
// landmarks in the face box; fan_68_5 estimates them from the detector's five.
// ModelPaths.Landmarkers maps these names to files.
const (
	Landmarker2DFAN4  = "2dfan4"
	LandmarkerFAN68_5 = "fan_68_5"
)

// LandmarkerModels are the landmarker model names.
var LandmarkerModels = []string{Landmarker2DFAN4, LandmarkerFAN68_5}

// Face areas (FaceFusion --face-mask-areas).
const (
	AreaUpperFace = "upper-face"
	AreaLowerFace = "lower-face"
	AreaMouth     = "mouth"
)

// MaskAreas are every face area Options.MaskAreas accepts; all of them are the
// default.
var MaskAreas = []string{AreaUpperFace, AreaLowerFace, AreaMouth}

// areaPoints are the 68-landmark indexes of each area, from FaceFusion's
// choices.face_mask_area_set.
var areaPoints = map[string][]int{
	AreaUpperFace: {0, 1, 2, 31, 32, 33, 34, 35, 14, 15, 16, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17},
	AreaLowerFace: {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 35, 34, 33, 32, 31},
	AreaMouth:     {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67},
}

// Landmarks68 are 68 face landmarks in the iBUG 300-W order (jaw 0–16, brows
// 17–26, nose 27–35, eyes 36–47, mouth 48–67), in frame pixels.
type Landmarks68 [68]Point

// AreaMask is FaceFusion's create_area_mask for a size×size crop: the convex
// hull of the landmarks of every listed area (pts in crop pixels, truncated to
// integers as FaceFusion's astype(int32) does) filled with 1, then smoothed
// (smoothMask). Pixels are inside when their integer position lies in the hull
// or on its edge (cv2.fillConvexPoly's rasterisation differs by at most a pixel
// along the edge, which the σ = 5 blur spreads anyway).
func AreaMask(size int, pts Landmarks68, areas []string) ([]float32, error) {
	var idx []int
	for _, a := range areas {
		p, ok := areaPoints[a]
		if !ok {
			return nil, fmt.Errorf("faceswap: unknown face area %q (want one of %v)", a, MaskAreas)
		}
		idx = append(idx, p...)
	}
	m := make([]float32, size*size)
	hull := convexHull(idx, pts)
	fillConvex(m, size, hull)
	smoothMask(m, size)
	return m, nil
}

type ipoint struct{ x, y int64 }

// convexHull returns the convex hull of pts[idx] (truncated towards zero) in
// counter-clockwise order (Andrew's monotone chain), without repeated points.
func convexHull(idx []int, pts Landmarks68) []ipoint {
	ps := make([]ipoint, 0, len(idx))
	for _, i := range idx {
		x, y := float64(pts[i].X), float64(pts[i].Y)
		if math.IsNaN(x) || math.IsNaN(y) || math.Abs(x) > 1<<30 || math.Abs(y) > 1<<30 {
			continue
		}
		ps = append(ps, ipoint{int64(x), int64(y)})
	}
	sort.Slice(ps, func(a, b int) bool {
		if ps[a].x != ps[b].x {
			return ps[a].x < ps[b].x
		}
		return ps[a].y < ps[b].y
	})
	ps = slices.Compact(ps)
	if len(ps) < 3 {
		return ps
	}
	cross := func(o, a, b ipoint) int64 { return (a.x-o.x)*(b.y-o.y) - (a.y-o.y)*(b.x-o.x) }
	hull := make([]ipoint, 0, 2*len(ps))
	for _, p := range ps {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(ps) - 2; i >= 0; i-- {
		p := ps[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	return hull[:len(hull)-1]
}

// fillConvex sets to 1 every pixel of the size×size mask whose integer position
// is inside the counter-clockwise convex polygon hull or on its edge.
func fillConvex(m []float32, size int, hull []ipoint) {
	if len(hull) < 3 {
		return
	}
	minY, maxY := hull[0].y, hull[0].y
	minX, maxX := hull[0].x, hull[0].x
	for _, p := range hull {
		minY, maxY = min(minY, p.y), max(maxY, p.y)
		minX, maxX = min(minX, p.x), max(maxX, p.x)
	}
	y0, y1 := max(minY, 0), min(maxY, int64(size-1))
	x0, x1 := max(minX, 0), min(maxX, int64(size-1))
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			in := true
			for i, a := range hull {
				b := hull[(i+1)%len(hull)]
				if (b.x-a.x)*(y-a.y)-(b.y-a.y)*(x-a.x) < 0 {
					in = false
					break
				}
			}
			if in {
				m[int(y)*size+int(x)] = 1
			}
		}
	}
}

// Landmarker finds 68 landmarks for a detected face: 2dfan4 from the face box
// or fan_68_5 from the five detector landmarks.
type Landmarker struct {
	name string
	sess *inference.Session
}

const fan4Size = 256

// NewLandmarker wraps the session of landmarker model name (one of
// LandmarkerModels), checking the signature:
//
//	2dfan4:   input float32 [1,3,256,256] → outputs [1,68,3] landmarks (64 grid), [1,68,64,64] heatmaps
//	fan_68_5: input float32 [1,5,2]       → output [1,68,2]
func NewLandmarker(name string, sess *inference.Session) (*Landmarker, error) {
	if len(sess.Inputs) != 1 || len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: landmarker %s: want one input and an output, got %v -> %v", sess.Path, sess.InputNames(), sess.OutputNames())
	}
	in := sess.Inputs[0]
	if in.DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("faceswap: landmarker %s: input %q of type %v, want float32", sess.Path, in.Name, in.DataType)
	}
	switch name {
	case Landmarker2DFAN4:
		if !dimsMatch(in.Dimensions, 1, 3, fan4Size, fan4Size) {
			return nil, fmt.Errorf("faceswap: landmarker %s: input %v, want [1,3,256,256] for 2dfan4", sess.Path, in.Dimensions)
		}
		if len(sess.Outputs) < 2 || !dimsMatch(sess.Outputs[0].Dimensions, 1, 68, 3) || !dimsMatch(sess.Outputs[1].Dimensions, 1, 68, 64, 64) {
			return nil, fmt.Errorf("faceswap: landmarker %s: outputs %v, want [1,68,3] landmarks and [1,68,64,64] heatmaps for 2dfan4", sess.Path, outputDims(sess))
		}
	case LandmarkerFAN68_5:
		if !dimsMatch(in.Dimensions, 1, 5, 2) {
			return nil, fmt.Errorf("faceswap: landmarker %s: input %v, want [1,5,2] for fan_68_5", sess.Path, in.Dimensions)
		}
		if !dimsMatch(sess.Outputs[0].Dimensions, 1, 68, 2) {
			return nil, fmt.Errorf("faceswap: landmarker %s: output %v, want [1,68,2] for fan_68_5", sess.Path, sess.Outputs[0].Dimensions)
		}
	default:
		return nil, fmt.Errorf("faceswap: unknown landmarker model %q (want one of %v)", name, LandmarkerModels)
	}
	return &Landmarker{name: name, sess: sess}, nil
}

func outputDims(s *inference.Session) [][]int64 {
	d := make([][]int64, len(s.Outputs))
	for i, o := range s.Outputs {
		d[i] = o.Dimensions
	}
	return d
}

// Name is the landmarker's model name.
func (l *Landmarker) Name() string { return l.name }

// Landmarks returns the face's 68 landmarks in frame pixels and, for 2dfan4,
// FaceFusion's landmarker score (1 for fan_68_5, which has none).
//
// 2dfan4 (face_landmarker.detect_with_2dfan4): the box is scaled by
// 195/max(w, h) and centred in a 256×256 crop, fed as BGR/255 NCHW; output 0's
// x, y (a 64 grid) times 4 are mapped back through the inverse crop transform;
// the score is the mean over the 68 heatmaps of their maximum, mapped from
// [0, 0.9] to [0, 1]. As FaceFusion, the crop is turned upright first by the
// face angle snapped to 0, 90, 180 or 270° (FaceAngle; FaceFusion takes it from
// the fan_68_5 jaw line, swapd from the eye line, which is parallel to it).
// Outside the frame the crop is black (cv2.warpAffine's default constant
// border). swapd skips FaceFusion's CLAHE contrast boost for very dark crops
// (mean L < 30).
//
// fan_68_5 (estimate_face_landmark_68_5): the five landmarks are mapped into
// unit ffhq_512 space by their similarity transform to that template, the
// model's 68 points mapped back by its inverse.
func (l *Landmarker) Landmarks(frame media.Frame, face Face) (Landmarks68, float64, error) {
	var out Landmarks68
	if l.name == LandmarkerFAN68_5 {
		m := AlignTransform(face.Landmarks, FFHQ512, 1)
		inv, ok := m.Invert()
		if !ok {
			return out, 0, fmt.Errorf("faceswap: fan_68_5: degenerate landmarks")
		}
		in := make([]float32, 10)
		for i, p := range face.Landmarks {
			q := m.Apply(p)
			in[i*2], in[i*2+1] = q.X, q.Y
		}
		outs, err := l.sess.RunFloat32(inference.Tensor{Shape: []int64{1, 5, 2}, Data: in})
		if err != nil {
			return out, 0, fmt.Errorf("faceswap: fan_68_5: %w", err)
		}
		d := outs[0].Data
		if len(d) != 136 {
			return out, 0, fmt.Errorf("faceswap: fan_68_5 returned %d values, want 136", len(d))
		}
		for i := range out {
			out[i] = inv.Apply(Point{d[i*2], d[i*2+1]})
		}
		return out, 1, nil
	}
	x1, y1, x2, y2 := float64(face.Box[0]), float64(face.Box[1]), float64(face.Box[2]), float64(face.Box[3])
	scale := 195 / math.Max(math.Max(x2-x1, y2-y1), 1)
	m := Affine{scale, 0, (fan4Size - (x1+x2)*scale) * 0.5, 0, scale, (fan4Size - (y1+y2)*scale) * 0.5}
	m = m.then(rotation(FaceAngle(face), fan4Size)) // translate and scale, then turn upright
	inv, _ := m.Invert()
	blob := make([]float32, 3*fan4Size*fan4Size)
	warpConstantBGR(frame, m, fan4Size, blob)
	outs, err := l.sess.RunFloat32(inference.Tensor{Shape: []int64{1, 3, fan4Size, fan4Size}, Data: blob})
	if err != nil {
		return out, 0, fmt.Errorf("faceswap: 2dfan4: %w", err)
	}
	if len(outs) < 2 || len(outs[0].Data) != 68*3 || len(outs[1].Data) != 68*64*64 {
		return out, 0, fmt.Errorf("faceswap: 2dfan4 returned outputs of unexpected sizes")
	}
	lm := outs[0].Data
	for i := range out {
		out[i] = inv.Apply(Point{lm[i*3] / 64 * fan4Size, lm[i*3+1] / 64 * fan4Size})
	}
	heat := outs[1].Data
	var sum float64
	for k := range 68 {
		h := heat[k*64*64 : (k+1)*64*64]
		mx := h[0]
		for _, v := range h[1:] {
			mx = max(mx, v)
		}
		sum += float64(mx)
	}
	score := min(max(sum/68/0.9, 0), 1)
	return out, score, nil
}

// FaceAngle is FaceFusion's face_helper.estimate_face_angle: the direction of
// the line across the face (FaceFusion: jaw point 0 to 16; here the left to the
// right eye, parallel to it) in degrees, snapped to 0, 90, 180 or 270.
func FaceAngle(face Face) int {
	l, r := face.Landmarks[0], face.Landmarks[1]
	theta := math.Atan2(float64(r.Y-l.Y), float64(r.X-l.X)) * 180 / math.Pi
	theta = math.Mod(theta+360, 360)
	return int(math.Round(theta/90)) % 4 * 90
}

// rotation is cv2.getRotationMatrix2D((size/2, size/2), angle, 1) as
// FaceFusion's create_rotation_matrix_and_size builds it for a square crop: for
// multiples of 90° the rotated crop keeps its size, so no re-centring is needed.
func rotation(angle, size int) Affine {
	a := float64(angle) * math.Pi / 180
	c, s := math.Round(math.Cos(a)), math.Round(math.Sin(a)) // exact for multiples of 90°
	cx := float64(size) / 2
	return Affine{c, s, (1-c)*cx - s*cx, -s, c, s*cx + (1-c)*cx}
}

// then returns the transform applying m, then n: (n ∘ m)(p) = n(m(p)).
func (m Affine) then(n Affine) Affine {
	return Affine{
		n[0]*m[0] + n[1]*m[3], n[0]*m[1] + n[1]*m[4], n[0]*m[2] + n[1]*m[5] + n[2],
		n[3]*m[0] + n[4]*m[3], n[3]*m[1] + n[4]*m[4], n[3]*m[2] + n[4]*m[5] + n[5],
	}
}

// warpConstantBGR warps the size×size crop of src under m into dst as planar
// B, G, R values x/255: bilinear, with the frame surrounded by black
// (cv2.warpAffine's defaults, which FaceFusion's landmarker crop uses), each
// value rounded to 8 bits as OpenCV's uint8 crop is.
func warpConstantBGR(src media.Frame, m Affine, size int, dst []float32) {
	plane := size * size
	inv, ok := m.Invert()
	if !ok {
		clear(dst[:3*plane])
		return
	}
	w, h := src.Width, src.Height
	tap := func(x, y int, c int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return float64(src.Pix[(y*w+x)*3+c])
	}
	for y := range size {
		for x := range size {
			sx, sy := inv.apply64(float64(x), float64(y))
			fx, fy := math.Floor(sx), math.Floor(sy)
			ax, ay := sx-fx, sy-fy
			x0, y0 := int(fx), int(fy)
			if math.IsNaN(sx+sy) || x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
				for c := range 3 {
					dst[c*plane+y*size+x] = 0
				}
				continue
			}
			for c := range 3 {
				v := (tap(x0, y0, c)*(1-ax)+tap(x0+1, y0, c)*ax)*(1-ay) + (tap(x0, y0+1, c)*(1-ax)+tap(x0+1, y0+1, c)*ax)*ay
				dst[(2-c)*plane+y*size+x] = float32(math.Round(v)) / 255 // RGB pixel → planes B, G, R
			}
		}
	}
}
