package faceswap

import "math"

// Landmark smoothing (issue #10). A detector's five landmarks wobble by a pixel
// or two from frame to frame even on a still face; the swapped face is pasted
// through a similarity transform fitted to them, so that wobble becomes a
// visibly trembling face. Each video track runs its landmarks through a One-Euro
// filter (Casiez, Roussel, Vogel, CHI 2012) before alignment.
//
// Why One-Euro and not a Kalman filter: a Kalman filter needs a motion model
// (constant position or velocity) and noise covariances, and trades jitter
// against lag through them once for all motion; when a head turns faster than
// the model expects, the estimate trails behind it for several frames. The
// One-Euro filter is a first-order low-pass whose cutoff rises with the speed
// of the signal: slow or still faces get a low cutoff (jitter removed), fast
// ones a high cutoff (nearly no lag). It has no state besides the last value
// and derivative, no model to get wrong, and two parameters that read directly
// as "how still is still" and "how fast must it follow".
//
// The parameters are in frames and face sizes rather than seconds and pixels, so
// that one setting fits any frame rate (per frame, a filter does not know the
// fps) and any face size: the speed that raises the cutoff is measured in face
// widths per frame. All five landmarks share one cutoff, driven by the speed of
// their centroid, so that a moving face keeps its shape instead of each point
// being smoothed by a different amount; the centroid's velocity also averages
// the five points' independent detector noise, which would otherwise read as
// motion and open the filter up on a still face.
const (
	// euroMinCutoff is the cutoff, in cycles per frame, of a still face:
	// α ≈ 0.16 per frame, which averages detector noise over about six frames.
	euroMinCutoff = 0.03
	// euroBeta raises the cutoff with speed: at 0.1 face widths per frame
	// (a fast head turn) the cutoff is 0.03 + 0.3, α ≈ 0.68, and the filter
	// trails a steady move by under half a frame's motion.
	euroBeta = 3.0
	// euroDerivCutoff smooths the speed estimate itself (α ≈ 0.24), so that
	// noise does not read as motion.
	euroDerivCutoff = 0.05
	// Chosen on synthetic landmarks (TestOneEuroFilter: 1 px noise on a 40 px
	// face keeps 17 % of its power; a 6 px/frame move is followed 1.8 px
	// behind, where a fixed low-pass at the same still-face cutoff trails
	// 31 px) and checked on the test video (TestSmoothingReducesJitter: the
	// aligned crops' jitter falls from 1.63 to 0.88 px).
	// euroSnap (pixels) is the largest difference between the smoothed and the
	// detected landmarks that is dropped in favour of the detected ones. A
	// thirty-second of a pixel moves no pasted pixel by a visible amount, and
	// snapping makes a still face's swap identical to the image path's.
	euroSnap = 1.0 / 32
)

// euroAlpha is the smoothing factor of a first-order low-pass with the given
// cutoff (cycles per frame) over dt frames.
func euroAlpha(cutoff, dt float64) float64 {
	tau := 1 / (2 * math.Pi * cutoff)
	return 1 / (1 + tau/dt)
}

// landmarkFilter is the One-Euro filter of one track's five landmarks.
type landmarkFilter struct {
	started bool
	last    int         // frame of the last sample
	x       [10]float64 // filtered landmarks, x0 y0 x1 y1 …
	dx      [10]float64 // filtered derivative, pixels per frame
}

// Filter takes the raw landmarks of frame seq (frames increase; gaps are allowed)
// and a face size in pixels, and returns the smoothed landmarks. The first
// sample passes through unchanged, and so does a sample within euroSnap of the
// filter's state: a still face's landmarks come back bit for bit.
func (f *landmarkFilter) Filter(seq int, lm [5]Point, size float64) [5]Point {
	var raw [10]float64
	for i, p := range lm {
		raw[2*i], raw[2*i+1] = float64(p.X), float64(p.Y)
	}
	if !f.started || seq <= f.last {
		f.started, f.last, f.x, f.dx = true, seq, raw, [10]float64{}
		return lm
	}
	dt := float64(seq - f.last)
	f.last = seq
	ad := euroAlpha(euroDerivCutoff, dt)
	var speed float64
	for i := range raw {
		d := (raw[i] - f.x[i]) / dt
		f.dx[i] += ad * (d - f.dx[i])
	}
	var vx, vy float64
	for i := 0; i < 10; i += 2 {
		vx += f.dx[i]
		vy += f.dx[i+1]
	}
	speed = math.Hypot(vx, vy) / 5
	if size < 1 {
		size = 1
	}
	a := euroAlpha(euroMinCutoff+euroBeta*speed/size, dt)
	var out [5]Point
	var off float64
	for i := range raw {
		// x̂ += α(x − x̂) rather than αx + (1−α)x̂: exact when x = x̂.
		f.x[i] += a * (raw[i] - f.x[i])
		off = math.Max(off, math.Abs(raw[i]-f.x[i]))
	}
	if off < euroSnap {
		// The filter and the detector agree to within an invisible fraction
		// of a pixel: use the detection itself, so a still face's frames
		// come out exactly as the image pipeline makes them.
		f.x = raw
		return lm
	}
	for i := range out {
		out[i] = Point{float32(f.x[2*i]), float32(f.x[2*i+1])}
	}
	return out
}

// faceSize is the scale landmark speeds are measured against: the larger side
// of the box.
func faceSize(f Face) float64 {
	return math.Max(float64(f.Box[2]-f.Box[0]), float64(f.Box[3]-f.Box[1]))
}
