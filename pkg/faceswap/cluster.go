package faceswap

import (
	"math"
	"sort"
)

// Clustering tracks into identities (issue #10). A track is one person's
// unbroken run; the same person shows up as several tracks when they leave the
// picture and come back, or the detector loses them for longer than the hold.
// Tracks are joined by agglomerative clustering of their mean embeddings,
// highest similarity first, with two rules:
//
//   - a threshold on the cosine of the clusters' mean embeddings, so the number
//     of identities is whatever the data say;
//   - cannot-link: two tracks seen in the same frame are two people, however
//     alike they look, and neither are clusters containing them. This is what
//     keeps look-alikes apart (on the test video two of the five people's mean
//     embeddings reach a cosine of 0.57, while they are in every frame together).
//
// The cluster similarity is the cosine of the summed embeddings of all their
// faces (centroid linkage weighted by faces): a long track's mean is far less
// noisy than a short one's, and weighting by faces lets it dominate.
//
// Tracks with fewer than minFrames detections are most likely false detections
// or a face glimpsed at the edge: they do not found identities, but join the
// closest identity they are compatible with. Those that fit none are clustered
// among themselves, and a group of them becomes an identity only when it
// totals minFrames detections.
//
// clusterMinCosine, measured on the test video (five people, 90 frames, SCRFD
// 500m, arcface_compat_512, faces 24–64 px wide): one frame's embedding against
// another frame's of the same person scores 0.20–0.98 (median 0.65), of
// different people −0.20–0.63 (99th percentile 0.51), so single faces cannot
// be told apart by a threshold at all. Means over 5 frames: same person
// 0.57–0.81, different people at most 0.39; over 30 frames: same 0.81–0.90,
// different at most 0.57 (the pair always seen together). 0.55 separates the
// short means with a margin on both sides and, for long means, leaves the one
// look-alike pair to the cannot-link rule.
const (
	clusterMinCosine = 0.55
	clusterMinFrames = 3
)

// cluster is a group of tracks taken for one person.
type cluster struct {
	tracks []*track
	sum    []float64 // summed embeddings of every face
	frames []int     // every frame any of its tracks was seen in, ascending
}

func newCluster(t *track) *cluster {
	return &cluster{tracks: []*track{t}, sum: append([]float64(nil), t.sum...), frames: append([]int(nil), t.frames...)}
}

func (c *cluster) size() int { return len(c.frames) }

// cosine is the cosine between the two clusters' summed embeddings.
func (c *cluster) cosine(o *cluster) float64 {
	var dot, na, nb float64
	for i := range c.sum {
		if i >= len(o.sum) {
			break
		}
		dot += c.sum[i] * o.sum[i]
		na += c.sum[i] * c.sum[i]
		nb += o.sum[i] * o.sum[i]
	}
	if na == 0 || nb == 0 {
		return -1
	}
	return dot / math.Sqrt(na*nb)
}

// conflicts reports whether the clusters share a frame (cannot-link).
func (c *cluster) conflicts(o *cluster) bool {
	i, j := 0, 0
	for i < len(c.frames) && j < len(o.frames) {
		switch {
		case c.frames[i] == o.frames[j]:
			return true
		case c.frames[i] < o.frames[j]:
			i++
		default:
			j++
		}
	}
	return false
}

// absorb merges o into c.
func (c *cluster) absorb(o *cluster) {
	c.tracks = append(c.tracks, o.tracks...)
	if len(c.sum) == 0 {
		c.sum = make([]float64, len(o.sum))
	}
	for i := range o.sum {
		if i < len(c.sum) {
			c.sum[i] += o.sum[i]
		}
	}
	merged := make([]int, 0, len(c.frames)+len(o.frames))
	i, j := 0, 0
	for i < len(c.frames) || j < len(o.frames) {
		if j >= len(o.frames) || (i < len(c.frames) && c.frames[i] <= o.frames[j]) {
			merged = append(merged, c.frames[i])
			i++
		} else {
			merged = append(merged, o.frames[j])
			j++
		}
	}
	c.frames = merged
}

// clusterTracks groups tracks (each with embeddings) into identities; see the
// comment above. minFrames is clusterMinFrames, or less for a very short video.
func clusterTracks(tracks []*track, minFrames int) []*cluster {
	var seeds, short []*cluster
	for _, t := range tracks {
		if t.embedded == 0 {
			continue
		}
		if len(t.frames) >= minFrames {
			seeds = append(seeds, newCluster(t))
		} else {
			short = append(short, newCluster(t))
		}
	}
	seeds = agglomerate(seeds)
	// Longest short tracks first: they have the most reliable means.
	sort.SliceStable(short, func(i, j int) bool { return short[i].size() > short[j].size() })
	var rest []*cluster
	for _, s := range short {
		var best *cluster
		bestCos := clusterMinCosine
		for _, c := range seeds {
			if cos := c.cosine(s); cos >= bestCos && !c.conflicts(s) {
				best, bestCos = c, cos
			}
		}
		if best != nil {
			best.absorb(s)
		} else {
			rest = append(rest, s)
		}
	}
	for _, c := range agglomerate(rest) {
		if c.size() >= minFrames {
			seeds = append(seeds, c)
		}
	}
	return seeds
}

// agglomerate merges the most similar compatible pair of clusters while its
// cosine reaches clusterMinCosine.
func agglomerate(cs []*cluster) []*cluster {
	for {
		bi, bj, best := -1, -1, clusterMinCosine
		for i := range cs {
			for j := i + 1; j < len(cs); j++ {
				if cos := cs[i].cosine(cs[j]); cos >= best && !cs[i].conflicts(cs[j]) {
					bi, bj, best = i, j, cos
				}
			}
		}
		if bi < 0 {
			return cs
		}
		cs[bi].absorb(cs[bj])
		cs = append(cs[:bj], cs[bj+1:]...)
	}
}
