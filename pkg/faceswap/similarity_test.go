package faceswap_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// alignedCrop is face of frame aligned to inswapper's template at 128 px, as the
// planar RGB [0,1] tensor the swapper would output.
func alignedCrop(frame media.Frame, face faceswap.Face) []float32 {
	const n = onnxgen.SwapperCropSize
	m := faceswap.AlignTransform(face.Landmarks, faceswap.ArcFace128, n)
	c := faceswap.WarpFrame(frame, m, n, n)
	out := make([]float32, 3*n*n)
	for i := 0; i < n*n; i++ {
		for ch := 0; ch < 3; ch++ {
			out[ch*n*n+i] = float32(c.Pix[i*3+ch]) / 255
		}
	}
	return out
}

// The similarity report, with the real recognizer: a swap stand-in whose output
// is the source's own face scores well above one that leaves the target's face
// as it is, and the identity stand-in scores what the target face itself scores.
func TestSimilarityTowardSourceBeatsIdentity(t *testing.T) {
	testPipeline(t)
	ctx := context.Background()
	srcFrame := loadFrame(t, "astronaut.png")
	target := loadFrame(t, "grace_hopper.jpg")

	dir := t.TempDir()
	idPath := filepath.Join(dir, "identity", onnxgen.SwapperFile)
	towardPath := filepath.Join(dir, "toward", onnxgen.SwapperFile)
	for _, d := range []string{filepath.Dir(idPath), filepath.Dir(towardPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := onnxgen.WriteSwapperIdentity(idPath, 3); err != nil {
		t.Fatal(err)
	}
	idPipe := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: idPath})

	srcFaces, err := idPipe.Detect(ctx, srcFrame, faceswap.Options{})
	if err != nil || len(srcFaces) == 0 {
		t.Fatalf("source faces %v, %v", srcFaces, err)
	}
	src, _, err := idPipe.Embed(ctx, []media.Frame{srcFrame}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := onnxgen.WriteSwapperConstant(towardPath, 3, alignedCrop(srcFrame, srcFaces[0])); err != nil {
		t.Fatal(err)
	}
	towardPipe := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: towardPath})

	_, idSt, err := idPipe.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, towardSt, err := towardPipe.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("identity %v, toward source %v", idSt.Similarity, towardSt.Similarity)
	if len(idSt.Similarity) != idSt.SwappedFaces || len(towardSt.Similarity) != towardSt.SwappedFaces || idSt.SwappedFaces != 1 {
		t.Fatalf("similarities %v / %v for %d / %d swapped faces", idSt.Similarity, towardSt.Similarity, idSt.SwappedFaces, towardSt.SwappedFaces)
	}
	id, toward := idSt.Similarity[0], towardSt.Similarity[0]
	if toward < id+0.2 {
		t.Errorf("toward-source similarity %.3f is not clearly above the identity swap's %.3f", toward, id)
	}
	if toward < 0.8 {
		t.Errorf("the source's own face re-embedded from the swapped crop scores %.3f, want ≥ 0.8", toward)
	}
	// The identity swap leaves the target's face: its score is the target face's own.
	tFaces, err := idPipe.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(tFaces) == 0 {
		t.Fatalf("target faces %v, %v", tFaces, err)
	}
	te, err := idPipe.EmbedFace(target, tFaces[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := faceswap.Cosine(src, te); id < want-0.1 || id > want+0.1 {
		t.Errorf("identity swap similarity %.3f, the target face itself %.3f", id, want)
	}

	// Videos: the same order over frames (3 face frames, 3 gray frames without
	// a face), each frame scoring what the image path scores.
	video := func(p *faceswap.Pipeline) faceswap.VideoStats {
		t.Helper()
		vs, err := p.SwapVideo(ctx, &sliceReader{frames: videoFrames(t, 6, target)}, &collector{failAt: -1}, src, faceswap.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if vs.Frames != 6 || vs.FramesWithFaces != 3 || !vs.HasSimilarity {
			t.Fatalf("video stats %+v", vs)
		}
		return vs
	}
	idV, towardV := video(idPipe), video(towardPipe)
	t.Logf("video: identity %+v, toward source %+v", idV.Similarity, towardV.Similarity)
	if towardV.Similarity.P10 < idV.Similarity.P10+0.2 || towardV.Similarity.Mean < idV.Similarity.Mean+0.2 {
		t.Errorf("video: toward-source %+v not clearly above identity %+v", towardV.Similarity, idV.Similarity)
	}
	for _, c := range []struct {
		s     faceswap.SimilaritySummary
		image float64
	}{{idV.Similarity, id}, {towardV.Similarity, toward}} {
		if c.s.Min > c.s.P10 || c.s.P10 > c.s.Mean+1e-9 || math.Abs(c.s.Mean-c.image) > 0.05 {
			t.Errorf("video summary %+v, image similarity %.3f", c.s, c.image)
		}
	}
}

func TestSummarize(t *testing.T) {
	if _, ok := faceswap.Summarize(nil); ok {
		t.Error("Summarize(nil) ok")
	}
	vs := []float64{0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2, 1.0, 0.05, 0.95}
	s, ok := faceswap.Summarize(vs)
	var sum float64
	for _, v := range vs {
		sum += v
	}
	// 12 values: the 10th percentile by nearest rank is the 2nd smallest.
	if !ok || s.Min != 0.05 || s.P10 != 0.1 || s.Mean != sum/12 {
		t.Errorf("Summarize = %+v, %v", s, ok)
	}
}
