package faceswap

import (
	"math"
	"sort"
)

// Frame-to-frame face tracking (issue #10). Each frame's faces are matched to
// the tracks alive so far by box overlap and, when the faces were embedded, by
// identity: a track is one person's run of consecutive detections, with an id,
// the frames it was seen in and the running sum of its embeddings.
//
// Matching is greedy on a pair score rather than an optimal (Hungarian)
// assignment: faces of one frame do not overlap (the detector's NMS sees to
// that), so between consecutive frames nearly every face has a single candidate
// and greedy best-first gives the same answer at a fraction of the code. The
// embedding term settles the rare ambiguous pairs (two people crossing) and
// vetoes a match between two clearly different people whose boxes happen to
// overlap.
const (
	// trackMinIoU is the least box overlap for a match on boxes alone. Faces
	// move a few pixels per frame, so a person's consecutive boxes overlap by
	// 0.6–0.9; 0.2 still follows a fast move or a short gap.
	trackMinIoU = 0.2
	// trackMinCosine vetoes a match whose identities clearly differ. One
	// frame's embedding of a small face against another frame's scores 0.20
	// to 0.98 for the same person on the test video (faces 24–64 px wide), and
	// against a track's mean more, so the veto sits below that: it catches a
	// different person, not a bad frame.
	trackMinCosine = 0.1
	// trackEmbedIoU is the least overlap for a match carried by the embedding
	// (cosine ≥ trackEmbedCosine): a face that moved further than trackMinIoU
	// allows during a gap, but is plainly the same person.
	trackEmbedIoU    = 0.05
	trackEmbedCosine = 0.5
	// trackEmbedWeight weighs the cosine against the overlap in a pair's score.
	trackEmbedWeight = 0.5
)

// track is one person's run of detections.
type track struct {
	id          int
	first, last int   // frames of the first and latest detection
	frames      []int // every frame it was detected in, ascending
	missed      int   // consecutive analysed frames without a detection
	face        Face  // the latest detection, raw landmarks
	firstFace   Face
	sum         []float64
	embedded    int // embeddings summed into sum

	// Analysis only: the best face and its thumbnail.
	best        Face
	bestFrame   int
	bestQuality float64
	thumb       thumbnail

	// Video swaps only.
	filter landmarkFilter
	patch  appearance // the face at its latest detection
}

// mean returns the track's mean embedding, L2-normalised; nil when none was added.
func (t *track) mean() Embedding {
	if t.embedded == 0 {
		return nil
	}
	v := make([]float32, len(t.sum))
	for i, x := range t.sum {
		v[i] = float32(x)
	}
	e, _ := normalize(v)
	return e
}

// observe records a detection of the track in frame seq.
func (t *track) observe(seq int, f Face, e Embedding) {
	if len(t.frames) == 0 {
		t.first, t.firstFace = seq, f
	}
	t.last, t.face, t.missed = seq, f, 0
	t.frames = append(t.frames, seq)
	if len(e) > 0 {
		if t.sum == nil {
			t.sum = make([]float64, len(e))
		}
		for i, x := range e {
			if i < len(t.sum) {
				t.sum[i] += float64(x)
			}
		}
		t.embedded++
	}
}

// tracker associates each frame's faces with tracks.
type tracker struct {
	hold  int // analysed frames a track may miss before it ends
	next  int // the next track id
	live  []*track
	ended []*track // kept only when keepEnded is set (analysis)

	keepEnded bool
}

// match is one face of a frame and the track it was given.
type match struct {
	face  int
	track *track
	// gap is how many analysed frames the track had missed before this one
	// (0: seen in the previous frame, or a new track).
	gap int
	// prev is the track's previous detection (when gap > 0: the face before the gap).
	prev     Face
	prevSeen int
}

// update matches faces (and their embeddings, if any: nil or one per face) of
// frame seq to the live tracks, starts a track for each face left over, and ages
// the tracks left over: one that has missed more than hold analysed frames ends.
// It returns one match per face, in faces' order.
func (tr *tracker) update(seq int, faces []Face, embs []Embedding) []match {
	type pair struct {
		t     *track
		f     int
		score float64
	}
	var pairs []pair
	for _, t := range tr.live {
		mean := t.mean()
		for i, f := range faces {
			ov := iou(t.face.Box, f.Box)
			score := ov
			if len(mean) > 0 && i < len(embs) && len(embs[i]) > 0 {
				c := Cosine(mean, embs[i])
				if c < trackMinCosine || (ov < trackMinIoU && (ov < trackEmbedIoU || c < trackEmbedCosine)) {
					continue
				}
				score += trackEmbedWeight * c
			} else if ov < trackMinIoU {
				continue
			}
			pairs = append(pairs, pair{t, i, score})
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].score > pairs[b].score })
	out := make([]match, len(faces))
	taken := make(map[*track]bool, len(tr.live))
	done := make([]bool, len(faces))
	for _, pr := range pairs {
		if taken[pr.t] || done[pr.f] {
			continue
		}
		taken[pr.t], done[pr.f] = true, true
		out[pr.f] = match{face: pr.f, track: pr.t, gap: pr.t.missed, prev: pr.t.face, prevSeen: pr.t.last}
	}
	for i := range faces {
		if done[i] {
			continue
		}
		t := &track{id: tr.next}
		tr.next++
		tr.live = append(tr.live, t)
		taken[t] = true
		out[i] = match{face: i, track: t}
	}
	for i, m := range out {
		var e Embedding
		if i < len(embs) {
			e = embs[i]
		}
		m.track.observe(seq, faces[i], e)
	}
	kept := tr.live[:0]
	for _, t := range tr.live {
		if !taken[t] {
			t.missed++
			if t.missed > tr.hold {
				if tr.keepEnded {
					tr.ended = append(tr.ended, t)
				}
				continue
			}
		}
		kept = append(kept, t)
	}
	clear(tr.live[len(kept):])
	tr.live = kept
	return out
}

// lost returns the live tracks that missed the latest frame: those a later
// frame may still bring back.
func (tr *tracker) lost() []*track {
	var out []*track
	for _, t := range tr.live {
		if t.missed > 0 {
			out = append(out, t)
		}
	}
	return out
}

// isLive reports whether t is still followed (seen, or missing within the hold).
func (tr *tracker) isLive(t *track) bool {
	for _, l := range tr.live {
		if l == t {
			return true
		}
	}
	return false
}

// finish ends every live track (the end of the video) and returns all the
// tracks that were kept, in order of their ids.
func (tr *tracker) finish() []*track {
	if tr.keepEnded {
		tr.ended = append(tr.ended, tr.live...)
	}
	tr.live = nil
	sort.Slice(tr.ended, func(i, j int) bool { return tr.ended[i].id < tr.ended[j].id })
	return tr.ended
}

// reset ends every live track without keeping it (the frame size changed: a
// different picture, nothing to follow across).
func (tr *tracker) reset() {
	if tr.keepEnded {
		tr.ended = append(tr.ended, tr.live...)
	}
	tr.live = nil
}

// iou is the intersection over union of two boxes (x1, y1, x2, y2).
func iou(a, b [4]float32) float64 {
	x1, y1 := math.Max(float64(a[0]), float64(b[0])), math.Max(float64(a[1]), float64(b[1]))
	x2, y2 := math.Min(float64(a[2]), float64(b[2])), math.Min(float64(a[3]), float64(b[3]))
	if x2 <= x1 || y2 <= y1 {
		return 0
	}
	inter := (x2 - x1) * (y2 - y1)
	area := func(r [4]float32) float64 { return float64(r[2]-r[0]) * float64(r[3]-r[1]) }
	u := area(a) + area(b) - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}
