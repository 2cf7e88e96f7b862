package faceswap_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// chooserSwapper writes an inswapper_128 look-alike whose output is the aligned
// crop of whichever of faces its source latent is closest to: the similarity
// stand-in (onnxgen.SwapperConstant) for several sources at once. Its emap is
// the identity, so the latent is the normalised source embedding; the graph is
//
//	w = softmax(50 · source · [e₁ … eₙ]),  output = reshape(w · [crop₁ … cropₙ])
//
// where eᵢ are the sources' embeddings and cropᵢ their faces aligned as
// inswapper's output (alignedCrop). A swap through it moves each face to its
// own source's face, and only there.
func chooserSwapper(t *testing.T, embs []faceswap.Embedding, crops [][]float32) string {
	t.Helper()
	const n = onnxgen.SwapperCropSize
	k := int64(len(embs))
	refs := make([]float32, 512*len(embs)) // [512, k]
	for j, e := range embs {
		for i, x := range e {
			refs[i*len(embs)+j] = x
		}
	}
	var faces []float32 // [k, 3·n·n]
	for _, c := range crops {
		faces = append(faces, c...)
	}
	emap := make([]float32, 512*512)
	for i := range 512 {
		emap[i*512+i] = 1
	}
	g := onnxgen.Graph{
		Name: "inswapper_128_chooser_standin",
		Nodes: []onnxgen.Node{
			{Name: "sims", Op: "MatMul", Inputs: []string{"source", "refs"}, Outputs: []string{"sims"}},
			{Name: "sharp", Op: "Mul", Inputs: []string{"sims", "sharpness"}, Outputs: []string{"sharp"}},
			{Name: "weights", Op: "Softmax", Inputs: []string{"sharp"}, Outputs: []string{"weights"},
				Attrs: []onnxgen.Attr{{Name: "axis", Type: onnxgen.AttrInt, I: 1}}},
			{Name: "mix", Op: "MatMul", Inputs: []string{"weights", "faces"}, Outputs: []string{"flat"}},
			{Name: "shape", Op: "Reshape", Inputs: []string{"flat", "shape"}, Outputs: []string{"shaped"}},
			// The target is read (as the real model's is) and ignored.
			{Name: "zero", Op: "Mul", Inputs: []string{"target", "zero"}, Outputs: []string{"zeroed"}},
			{Name: "out", Op: "Add", Inputs: []string{"shaped", "zeroed"}, Outputs: []string{"output"}},
		},
		Initializers: []onnxgen.Tensor{
			{Name: "refs", Dims: []int64{512, k}, Float: refs},
			{Name: "sharpness", Float: []float32{50}},
			{Name: "faces", Dims: []int64{k, 3 * n * n}, Float: faces},
			{Name: "shape", Dims: []int64{4}, Int64: []int64{1, 3, n, n}},
			{Name: "zero", Float: []float32{0}},
			{Name: "emap", Dims: []int64{512, 512}, Float: emap}, // must stay last
		},
		Inputs: []onnxgen.ValueInfo{
			{Name: "target", ElemType: onnxgen.Float, Dims: []int64{1, 3, n, n}},
			{Name: "source", ElemType: onnxgen.Float, Dims: []int64{1, 512}},
		},
		Outputs: []onnxgen.ValueInfo{
			{Name: "output", ElemType: onnxgen.Float, Dims: []int64{1, 3, n, n}},
		},
	}
	dir := filepath.Join(t.TempDir(), "chooser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, onnxgen.SwapperFile)
	if err := os.WriteFile(path, g.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mappedSetup is a pipeline with the chooser stand-in for two sources, the
// sources' identities and the test video's analysis.
type mappedSetup struct {
	p        *faceswap.Pipeline
	sources  []faceswap.Embedding
	analysis faceswap.VideoAnalysis
	frames   []media.Frame
}

func newMappedSetup(t *testing.T) mappedSetup {
	t.Helper()
	base := testPipeline(t)
	ctx := context.Background()
	var s mappedSetup
	var crops [][]float32
	for _, name := range []string{"astronaut.png", "newton_portrait.png"} {
		img := loadFrame(t, name)
		faces, err := base.Detect(ctx, img, faceswap.Options{})
		if err != nil || len(faces) == 0 {
			t.Fatalf("%s: faces %v, %v", name, faces, err)
		}
		e, _, err := base.Embed(ctx, []media.Frame{img}, faceswap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.sources = append(s.sources, e)
		crops = append(crops, alignedCrop(img, faces[0]))
	}
	t.Logf("the two sources' cosine: %.3f", faceswap.Cosine(s.sources[0], s.sources[1]))
	s.p = newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: chooserSwapper(t, s.sources, crops)})
	s.analysis = fivePeopleAnalysis(t)
	s.frames = fivePeopleFrames(t)
	if len(s.analysis.Identities) != 5 {
		t.Fatalf("%d identities in the test video", len(s.analysis.Identities))
	}
	return s
}

// maps maps identity 0 to source 0 and identity 3 to source 1.
func (s mappedSetup) maps() []faceswap.Mapping {
	return []faceswap.Mapping{
		{Reference: s.analysis.Identities[0].Embedding, Source: s.sources[0]},
		{Reference: s.analysis.Identities[3].Embedding, Source: s.sources[1]},
	}
}

// run swaps identities 0 → source 0 and 3 → source 1 of the test video and
// returns the frames written and what the tracking stage reported.
func (s mappedSetup) run(t *testing.T, unmapped string) ([]media.Frame, map[int][]faceswap.TrackedFace, faceswap.VideoStats) {
	t.Helper()
	maps := s.maps()
	var mu sync.Mutex
	got := map[int][]faceswap.TrackedFace{}
	faceswap.SetOnTracked(s.p, func(seq int, faces []faceswap.TrackedFace) {
		mu.Lock()
		got[seq] = faces
		mu.Unlock()
	})
	w := &collector{failAt: -1}
	st, err := s.p.SwapVideoMapped(context.Background(), &sliceReader{frames: s.frames}, w, maps, unmapped, faceswap.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.frames) != len(s.frames) || len(got) != len(s.frames) {
		t.Fatalf("%d frames written, %d tracked, want %d", len(w.frames), len(got), len(s.frames))
	}
	return w.frames, got, st
}

// personOf tells which analysed identity a track is: the identity nearest to
// the mean embedding of its faces in the original frames.
func personOf(t *testing.T, s mappedSetup, got map[int][]faceswap.TrackedFace) map[int]int {
	t.Helper()
	sums := map[int][]faceswap.Embedding{}
	for seq, faces := range got {
		for _, f := range faces {
			if f.Held {
				continue
			}
			e, err := s.p.EmbedFace(s.frames[seq], f.Face)
			if err != nil {
				t.Fatal(err)
			}
			sums[f.Track] = append(sums[f.Track], e)
		}
	}
	out := map[int]int{}
	for track, es := range sums {
		mean, err := faceswap.AverageEmbeddings(es)
		if err != nil {
			t.Fatal(err)
		}
		best, bestCos := -1, -2.0
		for _, id := range s.analysis.Identities {
			if c := faceswap.Cosine(mean, id.Embedding); c > bestCos {
				best, bestCos = id.ID, c
			}
		}
		out[track] = best
	}
	return out
}

// pasteRegion is the frame region a swap of f can touch, grown by margin pixels.
func pasteRegion(f faceswap.Face, w, h, margin int) [4]int {
	m := faceswap.AlignTransform(f.Landmarks, faceswap.ArcFace128, 128)
	x1, y1, x2, y2, ok := faceswap.PasteRegion(m, 128, w, h)
	if !ok {
		return [4]int{}
	}
	return [4]int{max(x1-margin, 0), max(y1-margin, 0), min(x2+margin, w), min(y2+margin, h)}
}

// changedOutsideRects counts pixels of got that differ from want outside every rect.
func changedOutsideRects(got, want media.Frame, rects [][4]int) int {
	n := 0
	for y := 0; y < got.Height; y++ {
		for x := 0; x < got.Width; x++ {
			inside := false
			for _, r := range rects {
				if x >= r[0] && x < r[2] && y >= r[1] && y < r[3] {
					inside = true
					break
				}
			}
			if inside {
				continue
			}
			i := (y*got.Width + x) * 3
			if got.Pix[i] != want.Pix[i] || got.Pix[i+1] != want.Pix[i+1] || got.Pix[i+2] != want.Pix[i+2] {
				n++
			}
		}
	}
	return n
}

// boxRect is f's box, clipped to the frame.
func boxRect(f faceswap.Face, w, h int) [4]int {
	return [4]int{max(int(f.Box[0]), 0), max(int(f.Box[1]), 0), min(int(math.Ceil(float64(f.Box[2]))), w), min(int(math.Ceil(float64(f.Box[3]))), h)}
}

// Mapping two of the five people to two different sources changes those two
// only: every pixel outside their paste regions (the other three people and
// the background) is the decoded frame's, each mapped person is swapped in
// every frame, always with their own source, and ends up closer to it than to
// the other source.
func TestSwapVideoMapped(t *testing.T) {
	s := newMappedSetup(t)
	out, got, st := s.run(t, faceswap.UnmappedKeep)
	t.Logf("stats %+v", st)
	person := personOf(t, s, got)
	want := map[int]int{0: 0, 3: 1} // identity → mapping
	swappedFrames := map[int]int{}  // mapping → frames swapped
	var own, other [2][]float64
	for seq, faces := range got {
		var rects [][4]int
		for _, f := range faces {
			id := person[f.Track]
			wantMap, mapped := want[id]
			if !mapped {
				wantMap = -1
			}
			if f.Mapping != wantMap {
				t.Errorf("frame %d: track %d (identity %d) got mapping %d, want %d", seq, f.Track, id, f.Mapping, wantMap)
				continue
			}
			if f.Mapping < 0 {
				continue
			}
			swappedFrames[f.Mapping]++
			rects = append(rects, pasteRegion(f.Face, out[seq].Width, out[seq].Height, 2))
			e, err := s.p.EmbedFace(out[seq], f.Face)
			if err != nil {
				t.Fatal(err)
			}
			own[f.Mapping] = append(own[f.Mapping], faceswap.Cosine(e, s.sources[f.Mapping]))
			other[f.Mapping] = append(other[f.Mapping], faceswap.Cosine(e, s.sources[1-f.Mapping]))
		}
		if n := changedOutsideRects(out[seq], s.frames[seq], rects); n != 0 {
			t.Errorf("frame %d: %d pixels changed outside the mapped faces", seq, n)
		}
	}
	for k := range 2 {
		if swappedFrames[k] != len(s.frames) {
			t.Errorf("mapping %d swapped in %d of %d frames", k, swappedFrames[k], len(s.frames))
		}
		mo, mx := mean(own[k]), mean(other[k])
		t.Logf("mapping %d: swapped face's similarity to its own source %.3f, to the other source %.3f", k, mo, mx)
		if mo < mx+0.2 {
			t.Errorf("mapping %d: similarity to its own source %.3f not clearly above the other's %.3f", k, mo, mx)
		}
	}
}

// With unmapped: blur, the other three people are blurred: the high-frequency
// energy in their boxes drops well below the original's. Person 0 (the
// leftmost) enters the video at frame 30 here (a detector wrapper hides them
// before): they get their source from their first frame on, and nobody else
// gets it before.
func TestSwapVideoMappedBlur(t *testing.T) {
	s := newMappedSetup(t)
	const enters = 30
	faceswap.SetDropDetections(s.p, func(seq int, faces []faceswap.Face) []faceswap.Face {
		if seq >= enters {
			return faces
		}
		var kept []faceswap.Face
		for _, f := range faces {
			if f.Box[0] > 200 { // person 0's face is the one left of x = 200
				kept = append(kept, f)
			}
		}
		return kept
	})
	out, got, _ := s.run(t, faceswap.UnmappedBlur)
	person := personOf(t, s, got)
	first := -1
	for seq := range len(s.frames) {
		for _, f := range got[seq] {
			if f.Mapping == 0 && first < 0 {
				first = seq
			}
			if f.Mapping == 0 && person[f.Track] != 0 {
				t.Errorf("frame %d: identity %d got person 0's source", seq, person[f.Track])
			}
		}
	}
	t.Logf("person 0 enters at frame %d and is first swapped in frame %d", enters, first)
	if first != enters {
		t.Errorf("person 0 entering at frame %d was first swapped in frame %d", enters, first)
	}
	var before, after float64
	blurred := 0
	for seq, faces := range got {
		for _, f := range faces {
			id := person[f.Track]
			if id == 0 || id == 3 {
				continue
			}
			if f.Mapping >= 0 {
				t.Errorf("frame %d: identity %d mapped", seq, id)
			}
			r := boxRect(f.Face, out[seq].Width, out[seq].Height)
			before += highFreq(s.frames[seq], r)
			after += highFreq(out[seq], r)
			blurred++
		}
	}
	t.Logf("high-frequency energy in %d unmapped face boxes: %.0f before, %.0f after blur (%.1f%%)", blurred, before, after, 100*after/before)
	if blurred < 3*len(s.frames)*9/10 || !(after < 0.2*before) {
		t.Errorf("blur left %.1f%% of the high-frequency energy in %d boxes", 100*after/before, blurred)
	}
}

// highFreq is the sum of squared Laplacians of the luma inside r.
func highFreq(f media.Frame, r [4]int) float64 {
	luma := func(x, y int) float64 {
		p := f.Pix[(y*f.Width+x)*3:]
		return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	var s float64
	for y := max(r[1], 1); y < min(r[3], f.Height-1); y++ {
		for x := max(r[0], 1); x < min(r[2], f.Width-1); x++ {
			l := 4*luma(x, y) - luma(x-1, y) - luma(x+1, y) - luma(x, y-1) - luma(x, y+1)
			s += l * l
		}
	}
	return s
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// The image path: in one frame of the test video, identities 0 and 3 get their
// own sources and nothing else changes; with unmapped: blur the other three
// are blurred too.
func TestSwapMapped(t *testing.T) {
	s := newMappedSetup(t)
	ctx := context.Background()
	frame := s.frames[0]
	faces, err := s.p.Detect(ctx, frame, faceswap.Options{})
	if err != nil || len(faces) != 5 {
		t.Fatalf("frame 0: %d faces, %v", len(faces), err)
	}
	faceswap.SortFaces(faces, faceswap.OrderLeftRight)
	out, st, err := s.p.SwapMapped(ctx, frame, s.maps(), "", faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("similarity %v", st.Similarity)
	if st.SwappedFaces != 2 {
		t.Fatalf("%d faces swapped, want 2", st.SwappedFaces)
	}
	rects := [][4]int{pasteRegion(faces[0], frame.Width, frame.Height, 1), pasteRegion(faces[3], frame.Width, frame.Height, 1)}
	if n := changedOutsideRects(out, frame, rects); n != 0 {
		t.Errorf("%d pixels changed outside faces 0 and 3", n)
	}
	for i, k := range map[int]int{0: 0, 3: 1} {
		e, err := s.p.EmbedFace(out, faces[i])
		if err != nil {
			t.Fatal(err)
		}
		own, other := faceswap.Cosine(e, s.sources[k]), faceswap.Cosine(e, s.sources[1-k])
		t.Logf("face %d: similarity to its source %.3f, to the other %.3f", i, own, other)
		if own < other+0.2 {
			t.Errorf("face %d: similarity to its own source %.3f, to the other %.3f", i, own, other)
		}
	}
	blurred, _, err := s.p.SwapMapped(ctx, frame, s.maps(), faceswap.UnmappedBlur, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2, 4} {
		r := boxRect(faces[i], frame.Width, frame.Height)
		if b, a := highFreq(frame, r), highFreq(blurred, r); !(a < 0.2*b) {
			t.Errorf("face %d: blur kept %.1f%% of the high-frequency energy", i, 100*a/b)
		}
	}
	if _, _, err := s.p.SwapMapped(ctx, frame, s.maps(), "smudge", faceswap.Options{}); err == nil {
		t.Error("unmapped \"smudge\" accepted")
	}
	far := []faceswap.Mapping{{Reference: s.sources[0], Source: s.sources[1]}}
	if _, _, err := s.p.SwapMapped(ctx, frame, far, "", faceswap.Options{}); !errors.Is(err, faceswap.ErrNoFaceSelected) {
		t.Errorf("a mapping matching nobody: %v, want ErrNoFaceSelected", err)
	}
}
