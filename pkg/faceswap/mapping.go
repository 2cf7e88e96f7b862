package faceswap

import (
	"fmt"
	"sort"
)

// mappedRun is what a mapped swap needs besides the options: every mapping's
// normalised reference, latent and source, and what to do with the rest.
type mappedRun struct {
	refs    []Embedding
	latents [][]float32
	srcs    []Embedding
	blur    bool
	maxDist float64
}

// newMappedRun checks maps and unmapped and prepares the latents.
func (p *Pipeline) newMappedRun(maps []Mapping, unmapped string, opts Options) (*mappedRun, error) {
	if unmapped != "" && unmapped != UnmappedKeep && unmapped != UnmappedBlur {
		return nil, fmt.Errorf("faceswap: unmapped %q: want %q or %q", unmapped, UnmappedKeep, UnmappedBlur)
	}
	if len(maps) == 0 {
		return nil, fmt.Errorf("faceswap: no mappings")
	}
	if p.rec == nil {
		return nil, errNoRecognizer
	}
	sw, err := p.swapperFor(opts)
	if err != nil {
		return nil, err
	}
	m := &mappedRun{blur: unmapped == UnmappedBlur, maxDist: opts.ReferenceDistance}
	for i, mp := range maps {
		if len(mp.Reference) != EmbeddingSize || len(mp.Source) != EmbeddingSize {
			return nil, fmt.Errorf("faceswap: mapping %d: reference and source must be %d-value embeddings, got %d and %d",
				i, EmbeddingSize, len(mp.Reference), len(mp.Source))
		}
		ref, ok := normalize(mp.Reference)
		if !ok {
			return nil, fmt.Errorf("faceswap: mapping %d: reference embedding is zero or not finite", i)
		}
		l, err := sw.Latent(mp.Source)
		if err != nil {
			return nil, fmt.Errorf("faceswap: mapping %d: %w", i, err)
		}
		m.refs, m.latents, m.srcs = append(m.refs, ref), append(m.latents, l), append(m.srcs, mp.Source)
	}
	return m, nil
}

// assign decides which mapping each face gets: -1 for none. ids are the faces'
// identities (a track's running mean, or one face's embedding for an image);
// rivals, when given, are identities of people not in this set of faces that
// still claim a mapping (tracks lost for a frame or two). A face gets the
// mapping whose reference is nearest within maxDist; each mapping goes to at
// most one face, the nearest, and not to a face when a rival is nearer to it
// (the person it belongs to is only hidden for a moment).
func (m *mappedRun) assign(ids []Embedding, rivals []Embedding) []int {
	type cand struct {
		face, mapping int
		cos           float64
	}
	best := make([]float64, len(m.refs))
	for k := range best {
		best[k] = -2
		for _, r := range rivals {
			if len(r) > 0 {
				best[k] = max(best[k], Cosine(r, m.refs[k]))
			}
		}
	}
	var cs []cand
	for i, e := range ids {
		if len(e) == 0 {
			continue
		}
		for k, ref := range m.refs {
			if FaceDistance(ref, e) <= m.maxDist {
				cs = append(cs, cand{i, k, Cosine(ref, e)})
			}
		}
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].cos > cs[b].cos })
	out := make([]int, len(ids))
	for i := range out {
		out[i] = -1
	}
	used := make([]bool, len(m.refs))
	for _, c := range cs {
		if out[c.face] >= 0 || used[c.mapping] || c.cos < best[c.mapping] {
			continue
		}
		out[c.face], used[c.mapping] = c.mapping, true
	}
	return out
}

// decide returns the mapping of each of g's faces (-1 none) from their tracks'
// running means; live are the tracker's live tracks, whose lost members are
// rivals.
func (m *mappedRun) decide(g *videoFrame, live []*track) []int {
	ids := make([]Embedding, len(g.faces))
	in := map[*track]bool{}
	for i, t := range g.tracks {
		ids[i] = t.mean()
		in[t] = true
	}
	var rivals []Embedding
	for _, t := range live {
		if !in[t] && t.missed > 0 {
			rivals = append(rivals, t.mean())
		}
	}
	return m.assign(ids, rivals)
}

// apply turns assignments into g's items, blur list and swapped faces.
func (m *mappedRun) apply(g *videoFrame, as []int) {
	var swapped []Face
	g.items, g.blur = g.items[:0], g.blur[:0]
	for i, k := range as {
		if k < 0 {
			if m.blur {
				g.blur = append(g.blur, g.faces[i])
			}
			continue
		}
		g.items = append(g.items, swapItem{g.faces[i], m.latents[k], m.srcs[k]})
		swapped = append(swapped, g.faces[i])
	}
	g.faces = append(g.faces[:0], swapped...)
}
