package faceswap_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

func box(x1, y1, x2, y2, score float32) faceswap.Face {
	return faceswap.Face{Box: [4]float32{x1, y1, x2, y2}, Score: score}
}

func TestSortFaces(t *testing.T) {
	a := box(10, 50, 30, 70, 0.9)   // 20×20, left, middle height, best
	b := box(100, 10, 160, 70, 0.6) // 60×60, right, top, worst
	c := box(50, 90, 90, 130, 0.7)  // 40×40, centre, bottom
	key := func(fs []faceswap.Face) []float32 {
		var k []float32
		for _, f := range fs {
			k = append(k, f.Box[0])
		}
		return k
	}
	cases := map[string][]float32{
		faceswap.OrderLeftRight:  {10, 50, 100},
		faceswap.OrderRightLeft:  {100, 50, 10},
		faceswap.OrderTopBottom:  {100, 10, 50},
		faceswap.OrderBottomTop:  {50, 10, 100},
		faceswap.OrderSmallLarge: {10, 50, 100},
		faceswap.OrderLargeSmall: {100, 50, 10},
		"":                       {100, 50, 10},
		faceswap.OrderBestWorst:  {10, 50, 100},
		faceswap.OrderWorstBest:  {100, 50, 10},
	}
	for order, want := range cases {
		got := key(faceswap.SortFaces([]faceswap.Face{a, b, c}, order))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("order %q: %v, want %v", order, got, want)
		}
	}
}

func TestFaceDistance(t *testing.T) {
	e := func(v ...float32) faceswap.Embedding { return v }
	cases := []struct {
		a, b faceswap.Embedding
		want float64
	}{
		{e(1, 0), e(1, 0), 0},
		{e(1, 0), e(0, 1), 0.5},
		{e(1, 0), e(-1, 0), 1},
		{e(1, 0), e(0.4, float32(math.Sqrt(1-0.16))), 0.3}, // cosine 0.4: exactly the default threshold
	}
	for _, c := range cases {
		if got := faceswap.FaceDistance(c.a, c.b); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("FaceDistance(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestPairFaces(t *testing.T) {
	P := func(ps ...int) []faceswap.Pair {
		var out []faceswap.Pair
		for i := 0; i < len(ps); i += 2 {
			out = append(out, faceswap.Pair{Source: ps[i], Target: ps[i+1]})
		}
		return out
	}
	cases := []struct {
		name     string
		src, tgt int
		si, ti   []int
		want     []faceswap.Pair
		wantErr  error
	}{
		{"one source, auto: only the leftmost target", 1, 3, nil, nil, P(0, 0), nil},
		{"-1 means auto", 1, 3, []int{-1}, []int{-1}, P(0, 0), nil},
		{"N sources, M targets: min(N,M) in order", 3, 2, nil, nil, P(0, 0, 1, 1), nil},
		{"N sources, more targets", 2, 4, nil, nil, P(0, 0, 1, 1), nil},
		{"auto sources, target list: source 0 everywhere", 3, 4, nil, []int{3, 1}, P(0, 3, 0, 1), nil},
		{"source list, auto targets", 3, 2, []int{2, 0, 1}, nil, P(2, 0, 0, 1), nil},
		{"both lists pairwise", 3, 3, []int{2, 0}, []int{0, 2}, P(2, 0, 0, 2), nil},
		{"same source twice", 1, 3, []int{0, 0}, []int{1, 2}, P(0, 1, 0, 2), nil},
		{"target index beyond faces", 1, 2, nil, []int{2}, nil, faceswap.ErrFaceIndex},
		{"source index beyond faces", 2, 2, []int{2}, []int{0}, nil, faceswap.ErrFaceIndex},
		{"no target faces", 1, 0, nil, nil, nil, faceswap.ErrNoFaceInTarget},
		{"no source faces", 0, 2, nil, nil, nil, faceswap.ErrNoFaceInSource},
	}
	for _, c := range cases {
		got, err := faceswap.PairFaces(c.src, c.tgt, c.si, c.ti)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	for _, bad := range [][2][]int{{{0, 1}, {0}}, {nil, {1, 1}}, {nil, {-1, 0}}, {{-2}, nil}} {
		if _, err := faceswap.PairFaces(3, 3, bad[0], bad[1]); err == nil {
			t.Errorf("PairFaces(%v, %v) accepted", bad[0], bad[1])
		}
	}
}

func TestOptionsSelection(t *testing.T) {
	ref := make(faceswap.Embedding, faceswap.EmbeddingSize)
	ref[0] = 1
	good := []faceswap.Options{
		{FaceSelector: faceswap.SelectReference, Reference: ref},
		{FaceSelector: faceswap.SelectReference, ReferenceFace: 2}, // the reference is the target's face 2
		{FaceSelector: faceswap.SelectReference, Reference: ref, ReferenceDistance: 1},
		{Order: faceswap.OrderBottomTop},
		{TargetIndexes: []int{-1}, SourceIndexes: []int{-1}},
		{TargetIndexes: []int{2, 0}},
		{TargetIndexes: []int{2, 0}, SourceIndexes: []int{0, 0}},
		{MouthMask: true, Enhancer: faceswap.EnhancerCodeFormer, EnhancerBlend: 100, EnhancerWeight: 1},
		{Enhancer: faceswap.EnhancerGPEN256, EnhancerBlend: faceswap.EnhancerBlendNone},
	}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v rejected: %v", o, err)
		}
	}
	bad := []faceswap.Options{
		{FaceSelector: faceswap.SelectReference, ReferenceFace: -1},
		{FaceSelector: faceswap.SelectReference, Reference: ref[:10]},
		{FaceSelector: faceswap.SelectReference, Reference: make(faceswap.Embedding, 512)},
		{FaceSelector: faceswap.SelectReference, Reference: ref, ReferenceDistance: 1.5},
		{Order: "random"},
		{TargetIndexes: []int{1, 1}},
		{TargetIndexes: []int{-1, 2}},
		{SourceIndexes: []int{-3}},
		{TargetIndexes: []int{0, 1}, SourceIndexes: []int{0}},
		{Enhancer: "gfpgan_1.1"},
		{EnhancerBlend: 101},
		{EnhancerBlend: -1},
		{EnhancerWeight: 2},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	d := faceswap.Options{}.WithDefaults()
	if d.Order != faceswap.OrderLargeSmall || d.ReferenceDistance != 0.3 || d.EnhancerBlend != 80 || d.EnhancerWeight != 0.5 || d.MouthMask || d.Enhancer != "" {
		t.Errorf("defaults %+v", d)
	}
}

// changedFaces reports, for each face, whether its core changed between a and b.
func changedFaces(a, b media.Frame, faces []faceswap.Face) []bool {
	out := make([]bool, len(faces))
	for i, f := range faces {
		out[i] = regionDiff(a, b, shrink(f.Box, 0.6)) > 10
	}
	return out
}

// groupFaces detects the faces of group_test3.jpg, left to right.
func groupFaces(t *testing.T, p *faceswap.Pipeline) (media.Frame, []faceswap.Face) {
	t.Helper()
	group := loadFrame(t, "group_test3.jpg")
	faces, err := p.Detect(context.Background(), group, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) < 3 {
		t.Fatalf("group_test3: %d faces, want 3", len(faces))
	}
	return group, faceswap.SortFaces(faces, faceswap.OrderLeftRight)
}

func TestSelectOrdersAndIndexes(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	group, faces := groupFaces(t, p)
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := func(idx ...int) []bool {
		w := make([]bool, len(faces))
		for _, i := range idx {
			w[i] = true
		}
		return w
	}
	// The top face is also the leftmost; the largest is the rightmost.
	cases := []struct {
		opts faceswap.Options
		want []bool
	}{
		{faceswap.Options{}, want(len(faces) - 1)},
		{faceswap.Options{Order: faceswap.OrderLeftRight}, want(0)},
		{faceswap.Options{Order: faceswap.OrderRightLeft}, want(len(faces) - 1)},
		{faceswap.Options{Order: faceswap.OrderTopBottom}, want(0)},
		{faceswap.Options{TargetIndexes: []int{1}}, want(1)},
		{faceswap.Options{TargetIndexes: []int{2, 0}}, want(0, 2)},
		{faceswap.Options{FaceSelector: faceswap.SelectMany}, want(0, 1, 2)},
	}
	for _, c := range cases {
		out, st, err := p.Swap(ctx, group, src, c.opts)
		if err != nil {
			t.Errorf("%+v: %v", c.opts, err)
			continue
		}
		if got := changedFaces(out, group, faces); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: changed faces %v, want %v (stats %+v)", c.opts, got, c.want, st)
		}
	}
	if _, _, err := p.Swap(ctx, group, src, faceswap.Options{TargetIndexes: []int{3}}); !errors.Is(err, faceswap.ErrFaceIndex) {
		t.Errorf("target index 3 of 3 faces: %v", err)
	}
	if _, _, err := p.Swap(ctx, group, src, faceswap.Options{SourceIndexes: []int{1}}); !errors.Is(err, faceswap.ErrFaceIndex) {
		t.Errorf("source index 1 with one source: %v", err)
	}
	// Select itself.
	sel, err := p.Select(group, append([]faceswap.Face(nil), faces...), faceswap.Options{Order: faceswap.OrderBestWorst, FaceSelector: faceswap.SelectMany})
	if err != nil || len(sel) != len(faces) {
		t.Fatalf("select many: %d %v", len(sel), err)
	}
	for i := 1; i < len(sel); i++ {
		if sel[i].Score > sel[i-1].Score {
			t.Errorf("best-worst order violated")
		}
	}
}

func TestReferenceSelection(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	group, faces := groupFaces(t, p)
	embs, st, err := p.EmbedFaces(ctx, group, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(embs) != len(faces) || st.Detect <= 0 || st.Embed <= 0 {
		t.Fatalf("EmbedFaces: %d embeddings, stats %+v", len(embs), st)
	}
	// EmbedFaces numbers faces left to right: embedding i is face i's.
	for i, f := range faces {
		e, err := p.EmbedFace(group, f)
		if err != nil {
			t.Fatal(err)
		}
		if c := faceswap.Cosine(e, embs[i]); c < 0.999 {
			t.Errorf("EmbedFaces[%d] is not face %d (cosine %v)", i, i, c)
		}
	}
	for i := range faces {
		for j := range faces {
			t.Logf("distance %d-%d: %.3f", i, j, faceswap.FaceDistance(embs[i], embs[j]))
		}
	}
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Looking for face 1 swaps face 1 only: the others are other people, further
	// than the default distance 0.3.
	swapsOnlyFace1(t, p, group, faces, src, faceswap.Options{FaceSelector: faceswap.SelectReference, Reference: embs[1]})
	// A reference nobody in the picture resembles: nothing selected.
	grace, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "grace_hopper.jpg")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Swap(ctx, group, src, faceswap.Options{FaceSelector: faceswap.SelectReference, Reference: grace})
	if !errors.Is(err, faceswap.ErrNoFaceSelected) || !errors.Is(err, faceswap.ErrNoFaceInTarget) {
		t.Errorf("unmatched reference: %v", err)
	}
	// The default threshold finds the same person in another picture of her.
	gh := loadFrame(t, "grace_hopper.jpg")
	moved := resample(gh, 0.8, 30, 10)
	if _, _, err := p.Swap(ctx, moved, src, faceswap.Options{FaceSelector: faceswap.SelectReference, Reference: grace}); err != nil {
		t.Errorf("grace found in a rescaled copy of her portrait: %v", err)
	}
}

func TestSwapIndexedAndAssigned(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	group, faces := groupFaces(t, p)
	srcs, _, err := p.EmbedFaces(ctx, loadFrame(t, "astronaut.png"), faceswap.Options{})
	if err != nil || len(srcs) != 1 {
		t.Fatalf("astronaut faces %d %v", len(srcs), err)
	}
	other, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "grace_hopper.jpg")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	two := []faceswap.Embedding{srcs[0], other}

	// Auto pairing: source i into target i.
	auto, st, err := p.SwapIndexed(ctx, group, two, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := changedFaces(auto, group, faces); !reflect.DeepEqual(got, []bool{true, true, false}) || st.SwappedFaces != 2 {
		t.Errorf("auto pairing changed %v, stats %+v", got, st)
	}
	// Explicit pairs give the same result as the equivalent assignments.
	opts := faceswap.Options{SourceIndexes: []int{1, 0}, TargetIndexes: []int{2, 0}}
	a, _, err := p.SwapIndexed(ctx, group, two, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := p.SwapAssigned(ctx, group, []faceswap.Assignment{{Target: 2, Source: other}, {Target: 0, Source: srcs[0]}}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := regionDiff(a, b, [4]float32{0, 0, float32(a.Width), float32(a.Height)}); d != 0 {
		t.Errorf("SwapIndexed and SwapAssigned differ by %v", d)
	}
	if got := changedFaces(a, group, faces); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("pairs changed %v", got)
	}
	// Face 2 got the other identity than in the auto run's face 1: compare with
	// a swap of face 2 with source 0.
	c, _, err := p.SwapAssigned(ctx, group, []faceswap.Assignment{{Target: 2, Source: srcs[0]}}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := regionDiff(a, c, shrink(faces[2].Box, 0.6)); d < 3 {
		t.Errorf("face 2 looks the same with either source (%v)", d)
	}
	if _, _, err := p.SwapAssigned(ctx, group, []faceswap.Assignment{{Target: 5, Source: other}}, faceswap.Options{}); !errors.Is(err, faceswap.ErrFaceIndex) {
		t.Errorf("assignment to face 5: %v", err)
	}
	if _, _, err := p.SwapAssigned(ctx, group, []faceswap.Assignment{{Target: 0, Source: other}, {Target: 0, Source: other}}, faceswap.Options{}); err == nil {
		t.Error("a face assigned twice accepted")
	}
	if _, _, err := p.SwapIndexed(ctx, grayFrame(64, 64), two, faceswap.Options{}); !errors.Is(err, faceswap.ErrNoFaceInTarget) {
		t.Errorf("no target face: %v", err)
	}
	if _, _, err := p.EmbedFaces(ctx, grayFrame(64, 64), faceswap.Options{}); !errors.Is(err, faceswap.ErrNoFaceInSource) {
		t.Errorf("EmbedFaces on a blank frame: %v", err)
	}
}

// swapsOnlyFace1 swaps src into group (whose faces, left to right, are faces) in
// reference mode and checks that face 1 alone changed, by a swap that embedded
// faces to find it. It returns the swapped frame.
func swapsOnlyFace1(t *testing.T, p *faceswap.Pipeline, group media.Frame, faces []faceswap.Face, src faceswap.Embedding, opts faceswap.Options) media.Frame {
	t.Helper()
	out, st, err := p.Swap(context.Background(), group, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := changedFaces(out, group, faces); !reflect.DeepEqual(got, []bool{false, true, false}) {
		t.Errorf("reference face 1 (%+v): changed %v", opts, got)
	}
	if st.Embed <= 0 || st.SwappedFaces != 1 {
		t.Errorf("stats %+v", st)
	}
	return out
}
