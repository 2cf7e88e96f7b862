package faceswap

import (
	"math/rand/v2"
	"testing"
)

// synthTrack is a track seen in frames [from, to) whose faces embed near e.
func synthTrack(id, from, to int, e []float64, rng *rand.Rand, noise float64) *track {
	t := &track{id: id}
	for seq := from; seq < to; seq++ {
		v := make(Embedding, len(e))
		for i, x := range e {
			v[i] = float32(x + noise*rng.NormFloat64())
		}
		n, _ := normalize(v)
		t.observe(seq, Face{Box: [4]float32{float32(10 * id), 0, float32(10*id + 8), 8}}, n)
	}
	return t
}

func randomDir(rng *rand.Rand) []float64 {
	e := make([]float64, EmbeddingSize)
	for i := range e {
		e[i] = rng.NormFloat64()
	}
	return e
}

// Two tracks of one look seen in the same frames are two people (cannot-link),
// however alike; a third track of that look, later, joins one of them; a
// different person stays apart; a two-frame glitch joins the person it looks
// like, and one that looks like nobody is dropped.
func TestClusterCannotLink(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	same, other := randomDir(rng), randomDir(rng)
	a := synthTrack(0, 0, 30, same, rng, 0.02)
	b := synthTrack(1, 0, 30, same, rng, 0.02) // a twin, always beside a
	c := synthTrack(2, 60, 90, same, rng, 0.02)
	d := synthTrack(3, 60, 90, other, rng, 0.02)
	glitch := synthTrack(4, 40, 42, other, rng, 0.02)
	stranger := synthTrack(5, 45, 47, randomDir(rng), rng, 0.02)
	if cs := newCluster(a).cosine(newCluster(b)); cs < 0.99 {
		t.Fatalf("twins' cosine %.3f, want them near identical", cs)
	}
	cs := clusterTracks([]*track{a, b, c, d, glitch, stranger}, clusterMinFrames)
	of := map[*track]int{}
	for i, c := range cs {
		for _, t := range c.tracks {
			of[t] = i
		}
	}
	if len(cs) != 3 {
		t.Fatalf("%d clusters, want 3 (a, b twins; d)", len(cs))
	}
	if of[a] == of[b] {
		t.Error("twins seen in the same frames were merged")
	}
	if of[c] != of[a] && of[c] != of[b] {
		t.Error("the later track of the twins' look joined neither twin")
	}
	if of[d] == of[a] || of[d] == of[b] {
		t.Error("a different person was merged with a twin")
	}
	if g, ok := of[glitch]; !ok || g != of[d] {
		t.Error("the short track did not join the person it looks like")
	}
	if _, ok := of[stranger]; ok {
		t.Error("a two-frame track resembling nobody became or joined an identity")
	}
	for _, c := range cs {
		for i := 1; i < len(c.frames); i++ {
			if c.frames[i] <= c.frames[i-1] {
				t.Fatalf("cluster frames not strictly ascending: %v", c.frames)
			}
		}
	}
}
