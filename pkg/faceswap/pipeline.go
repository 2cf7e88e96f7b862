// Package faceswap is swapd's face-swap pipeline: SCRFD detection, similarity
// alignment to the ArcFace templates, ArcFace identity embeddings, inswapper_128
// and FaceFusion-style box-mask paste-back. It follows FaceFusion's order and
// constants (docs/face-pipeline-facts.md) and knows nothing about HTTP or queues.
//
// A Pipeline is bound to one inference.Device. It does not take device slots
// itself: the caller holds a slot (inference.Pool.Acquire) around each call, so
// one job's detect+swap work is counted once however many stages it runs.
package faceswap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// ModelPaths locates the model files. Detector is required; Recognizer is needed
// for Embed and Swapper for Swap, so a pipeline that only embeds may leave Swapper
// empty.
type ModelPaths struct{ Detector, Recognizer, Swapper string }

// Errors a client can act on. They are returned wrapped; test with errors.Is.
var (
	ErrNoFaceInSource = errors.New("faceswap: no face found in source image")
	ErrNoFaceInTarget = errors.New("faceswap: no face found in target image")
)

var (
	errNoRecognizer = errors.New("faceswap: pipeline has no recognizer model")
	errNoSwapper    = errors.New("faceswap: pipeline has no swapper model")
)

// Stats reports where one call spent its time. Swap covers crop, latent and model
// inference; Paste covers mask and blend.
type Stats struct {
	Detect, Embed, Swap, Paste time.Duration
	TargetFaces, SwappedFaces  int
}

// Pipeline holds one device's sessions, created once in New and reused by every
// call. It is safe for concurrent use.
type Pipeline struct {
	dev      *inference.Device
	sessions []*inference.Session
	det      *Detector
	rec      *Recognizer
	swp      *Swapper
	masks    sync.Map // maskKey → []float32, read-only once stored
}

// New opens the models on dev (sharing sessions already open there) and reads the
// swapper's emap. inference.Init must have been called.
func New(paths ModelPaths, dev *inference.Device) (*Pipeline, error) {
	if dev == nil {
		return nil, errors.New("faceswap: nil device")
	}
	if paths.Detector == "" {
		return nil, errors.New("faceswap: no detector model path")
	}
	p := &Pipeline{dev: dev}
	open := func(path string) (*inference.Session, error) {
		s, err := dev.OpenSession(path)
		if err != nil {
			return nil, err
		}
		p.sessions = append(p.sessions, s)
		return s, nil
	}
	fail := func(err error) (*Pipeline, error) {
		p.Close()
		return nil, err
	}
	s, err := open(paths.Detector)
	if err != nil {
		return fail(err)
	}
	if p.det, err = NewDetector(s); err != nil {
		return fail(err)
	}
	if paths.Recognizer != "" {
		if s, err = open(paths.Recognizer); err != nil {
			return fail(err)
		}
		if p.rec, err = NewRecognizer(s); err != nil {
			return fail(err)
		}
	}
	if paths.Swapper != "" {
		if s, err = open(paths.Swapper); err != nil {
			return fail(err)
		}
		if p.swp, err = NewSwapper(s); err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// Close releases the pipeline's sessions (the device destroys a session when its
// last user closes it). No call may be in flight.
func (p *Pipeline) Close() error {
	var first error
	for _, s := range p.sessions {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.sessions = nil
	return first
}

// Device returns the device the pipeline runs on.
func (p *Pipeline) Device() *inference.Device { return p.dev }

// Detect returns the faces in frame, highest score first.
func (p *Pipeline) Detect(ctx context.Context, frame media.Frame, opts Options) ([]Face, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	return p.det.Detect(frame, opts.DetectorSize, opts.DetectorScore)
}

// Embed returns the identity of the source images: the largest face of each,
// embedded and averaged (FaceFusion's average_face_identity). It fails with
// ErrNoFaceInSource, naming the image, when any source has no face.
func (p *Pipeline) Embed(ctx context.Context, sources []media.Frame, opts Options) (Embedding, Stats, error) {
	var st Stats
	if err := opts.Validate(); err != nil {
		return nil, st, err
	}
	opts = opts.WithDefaults()
	if p.rec == nil {
		return nil, st, errNoRecognizer
	}
	if len(sources) == 0 {
		return nil, st, errors.New("faceswap: no source images")
	}
	embs := make([]Embedding, 0, len(sources))
	for i, src := range sources {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		t := time.Now()
		faces, err := p.det.Detect(src, opts.DetectorSize, opts.DetectorScore)
		st.Detect += time.Since(t)
		if err != nil {
			return nil, st, fmt.Errorf("faceswap: source %d: %w", i, err)
		}
		if len(faces) == 0 {
			return nil, st, fmt.Errorf("%w (source image %d)", ErrNoFaceInSource, i)
		}
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		t = time.Now()
		e, err := p.rec.Embed(src, largest(faces))
		st.Embed += time.Since(t)
		if err != nil {
			return nil, st, fmt.Errorf("faceswap: source %d: %w", i, err)
		}
		embs = append(embs, e)
	}
	avg, err := AverageEmbeddings(embs)
	return avg, st, err
}

// EmbedFace returns the normalised embedding of one detected face.
func (p *Pipeline) EmbedFace(frame media.Frame, face Face) (Embedding, error) {
	if p.rec == nil {
		return nil, errNoRecognizer
	}
	if err := checkFrame(frame); err != nil {
		return nil, err
	}
	return p.rec.Embed(frame, face)
}

// Swap replaces the selected faces of target with the identity src and returns a
// new frame (target is not modified). It fails with ErrNoFaceInTarget when the
// target has no face, and with ctx's error when ctx ends, checked between steps
// and between faces.
func (p *Pipeline) Swap(ctx context.Context, target media.Frame, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := opts.Validate(); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if p.swp == nil {
		return media.Frame{}, st, errNoSwapper
	}
	if err := checkFrame(target); err != nil {
		return media.Frame{}, st, err
	}
	if err := ctx.Err(); err != nil {
		return media.Frame{}, st, err
	}
	t := time.Now()
	faces, err := p.det.Detect(target, opts.DetectorSize, opts.DetectorScore)
	st.Detect = time.Since(t)
	if err != nil {
		return media.Frame{}, st, err
	}
	st.TargetFaces = len(faces)
	if len(faces) == 0 {
		return media.Frame{}, st, ErrNoFaceInTarget
	}
	if opts.FaceSelector == SelectOne {
		faces = []Face{largest(faces)}
	}
	out, sst, err := p.SwapFaces(ctx, target, faces, src, opts)
	st.Swap, st.Paste, st.SwappedFaces = sst.Swap, sst.Paste, sst.SwappedFaces
	return out, st, err
}

// SwapFaces swaps the given faces (from an earlier Detect, e.g. on a reference
// frame of a video) without detecting or selecting, and returns a new frame.
// Faces are swapped one after another on the output, as FaceFusion does, so
// overlapping faces blend consistently. opts supplies the mask settings.
func (p *Pipeline) SwapFaces(ctx context.Context, target media.Frame, faces []Face, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := opts.Validate(); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if p.swp == nil {
		return media.Frame{}, st, errNoSwapper
	}
	if err := checkFrame(target); err != nil {
		return media.Frame{}, st, err
	}
	t := time.Now()
	latent, err := p.swp.Latent(src)
	st.Swap = time.Since(t)
	if err != nil {
		return media.Frame{}, st, err
	}
	size := p.swp.Size()
	mask := p.boxMask(size, opts.MaskBlur, opts.MaskPadding)
	out := target.Clone()
	for _, f := range faces {
		if err := ctx.Err(); err != nil {
			return media.Frame{}, st, err
		}
		t = time.Now()
		crop, m, err := p.swp.SwapFace(out, f, latent)
		st.Swap += time.Since(t)
		if err != nil {
			return media.Frame{}, st, err
		}
		if err := ctx.Err(); err != nil {
			return media.Frame{}, st, err
		}
		t = time.Now()
		PasteBack(out, crop, mask, size, m)
		st.Paste += time.Since(t)
		st.SwappedFaces++
	}
	return out, st, nil
}

// largest returns the face with the biggest box (FaceFusion's "one" with its
// default large-small order).
func largest(faces []Face) Face {
	best := faces[0]
	for _, f := range faces[1:] {
		if f.Area() > best.Area() {
			best = f
		}
	}
	return best
}

type maskKey struct {
	size    int
	blur    float64
	padding [4]float64
}

// boxMask caches masks: they depend only on the options, and a video job asks
// for the same one every frame.
func (p *Pipeline) boxMask(size int, blur float64, padding [4]float64) []float32 {
	k := maskKey{size, blur, padding}
	if m, ok := p.masks.Load(k); ok {
		return m.([]float32)
	}
	m, _ := p.masks.LoadOrStore(k, BoxMask(size, blur, padding))
	return m.([]float32)
}
