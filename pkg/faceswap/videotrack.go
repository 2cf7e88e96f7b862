package faceswap

import (
	"math"
	"time"
)

// The tracking stage of a video swap (issue #10): it sits between detection and
// the swap, sees the frames in order (restoring the order that several detect
// workers may have broken), and for every face of a frame
//
//   - gives it a track (tracker: box overlap, plus identity when embedded);
//   - smooths its landmarks over the track (smooth.go), so the swapped face does
//     not tremble with the detector's noise;
//   - bridges detector misses (hold-over): while a track is missing, the frames
//     are held back, up to the hold; when the track comes back in time, the
//     held frames get its face at landmarks interpolated between the detections
//     on either side of the gap (when the region still looks like that face:
//     appearance.go), so the face is not swapped on and off. A track missing for
//     longer ends, and the held frames go on without it;
//   - in mapped swaps, decides which mapping (if any) each face gets, from its
//     track's running mean embedding, and holds a new track's first frames until
//     that mean has settled (mappedWarmup), so that a person is not given
//     someone else's source on the strength of one noisy embedding.
//
// Holding frames needs frame buffers beyond the pipeline's usual videoInFlight:
// the stage lends the pool one per frame it holds, so a video without gaps
// uses no more buffers than before.
type trackStage struct {
	v      *videoRun
	tr     tracker
	smooth bool
	w, h   int           // the frame size tracks belong to
	queue  []*videoFrame // frames processed but held back, in order
	latest int           // the latest frame pushed
}

// mappedWarmup is how many embeddings a new track gathers (or frames pass)
// before its first frame is released in a mapped swap. One small face's
// embedding is a poor witness (same-person cosines 0.2–0.98 on the test video);
// the mean of eight is a good one (same person ≥ 0.6 against the analysis mean).
const mappedWarmup = 8

func newTrackStage(v *videoRun) *trackStage {
	return &trackStage{v: v, tr: tracker{hold: v.opts.trackHold()}, smooth: !v.opts.NoSmoothing}
}

// push takes the next frame in order and returns the frames that can go on, in
// order.
func (ts *trackStage) push(f *videoFrame) []*videoFrame {
	var out []*videoFrame
	if ts.w != 0 && (f.frame.Width != ts.w || f.frame.Height != ts.h) {
		// Another picture size: nothing to follow across it.
		out = ts.flush()
		ts.tr.reset()
	}
	ts.w, ts.h, ts.latest = f.frame.Width, f.frame.Height, f.seq
	matches := ts.tr.update(f.seq, f.faces, f.embs)
	f.tracks = f.tracks[:0]
	f.held = f.held[:0]
	for _, m := range matches {
		t := m.track
		raw := f.faces[m.face]
		patch := appearanceOf(f.frame, raw.Box)
		if m.gap > 0 {
			ts.bridge(t, m.prev, m.prevSeen, raw, f.seq, patch)
		}
		if ts.smooth {
			f.faces[m.face].Landmarks = t.filter.Filter(f.seq, raw.Landmarks, faceSize(raw))
		}
		t.patch = patch
		f.tracks = append(f.tracks, t)
		f.held = append(f.held, false)
	}
	ts.queue = append(ts.queue, f)
	out = append(out, ts.release(false)...)
	ts.v.pool.setHeld(len(ts.queue))
	return out
}

// bridge gives the held frames between prevSeen and seq (exclusive) track t's
// face, interpolated between prev and next, where the frame still looks like it.
func (ts *trackStage) bridge(t *track, prev Face, prevSeen int, next Face, seq int, nextPatch appearance) {
	for _, g := range ts.queue {
		if g.seq <= prevSeen || g.seq >= seq {
			continue
		}
		a := float32(g.seq-prevSeen) / float32(seq-prevSeen)
		face := lerpFace(prev, next, a)
		here := appearanceOf(g.frame, face.Box)
		if math.Min(here.diff(t.patch), here.diff(nextPatch)) > appearanceMaxDiff {
			continue // not a miss: the face is covered, or the picture changed
		}
		if ts.smooth {
			face.Landmarks = t.filter.Filter(g.seq, face.Landmarks, faceSize(face))
		}
		g.faces = append(g.faces, face)
		g.tracks = append(g.tracks, t)
		g.held = append(g.held, true)
		if len(g.embs) > 0 {
			g.embs = append(g.embs, nil)
		}
	}
}

// release returns the frames at the head of the queue that no lost track can
// come back into (and, mapped, whose new tracks have warmed up); all of them
// when final.
func (ts *trackStage) release(final bool) []*videoFrame {
	hold := math.MaxInt
	if !final {
		for _, t := range ts.tr.lost() {
			hold = min(hold, t.last)
		}
	}
	var out []*videoFrame
	n := 0
	for _, g := range ts.queue {
		if !final && (g.seq > hold || !ts.warm(g)) {
			break
		}
		ts.finish(g)
		out = append(out, g)
		n++
	}
	clear(ts.queue[:n])
	ts.queue = ts.queue[n:]
	if len(ts.queue) == 0 {
		ts.queue = ts.queue[:0:0]
	}
	return out
}

// warm reports whether g's faces' tracks know enough of their person to decide
// their mapping: always outside mapped swaps.
func (ts *trackStage) warm(g *videoFrame) bool {
	if ts.v.maps == nil || ts.latest-g.seq >= mappedWarmup {
		return true
	}
	for _, t := range g.tracks {
		if t.embedded < mappedWarmup && ts.tr.isLive(t) {
			return false
		}
	}
	return true
}

// flush releases every held frame (the end of the video, or of a picture size).
func (ts *trackStage) flush() []*videoFrame {
	out := ts.release(true)
	ts.v.pool.setHeld(0)
	return out
}

// finish completes g before it leaves the stage: in a mapped swap, its swap
// items and the faces to blur.
func (ts *trackStage) finish(g *videoFrame) {
	var as []int
	if ts.v.maps != nil {
		as = ts.v.maps.decide(g, ts.tr.live)
	}
	if h := ts.v.p.onTracked; h != nil {
		fs := make([]trackedFace, len(g.faces))
		for i, f := range g.faces {
			fs[i] = trackedFace{Face: f, Track: g.tracks[i].id, Held: g.held[i]}
			if as != nil {
				fs[i].Mapping = as[i]
			}
		}
		h(g.seq, fs)
	}
	if as != nil {
		ts.v.maps.apply(g, as)
	}
}

// trackedFace is what the onTracked test hook sees of a face leaving the
// tracking stage: the face (smoothed landmarks), its track, whether it was held
// over, and in a mapped swap the mapping it got (-1 none).
type trackedFace struct {
	Face    Face
	Track   int
	Held    bool
	Mapping int
}

// trackFrames runs the tracking stage: frames from in, restored to sequence
// order, go to out once push or the end of the stream lets them.
func (v *videoRun) trackFrames(in <-chan *videoFrame, out chan<- *videoFrame) {
	v.serialStage(out, func(st *Stats) {
		ts := newTrackStage(v)
		order := newReorder()
		send := func(fs []*videoFrame) bool {
			for _, g := range fs {
				if !v.send(out, g) {
					v.fail(v.run.Err())
					return false
				}
			}
			return true
		}
		for {
			f, ok := v.recv(in)
			if !ok {
				if v.run.Err() == nil && order.held() == 0 {
					t := time.Now()
					rest := ts.flush()
					st.Detect += time.Since(t)
					send(rest)
				}
				return
			}
			order.add(f)
			for {
				g, ok := order.take()
				if !ok {
					break
				}
				t := time.Now()
				ready := ts.push(g)
				st.Detect += time.Since(t)
				if !send(ready) {
					return
				}
			}
		}
	})
}

// lerpFace interpolates box and landmarks from a (at 0) to b (at 1).
func lerpFace(a, b Face, t float32) Face {
	l := func(x, y float32) float32 { return x + t*(y-x) }
	f := Face{Score: l(a.Score, b.Score)}
	for i := range f.Box {
		f.Box[i] = l(a.Box[i], b.Box[i])
	}
	for i := range f.Landmarks {
		f.Landmarks[i] = Point{l(a.Landmarks[i].X, b.Landmarks[i].X), l(a.Landmarks[i].Y, b.Landmarks[i].Y)}
	}
	return f
}
