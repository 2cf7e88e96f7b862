// Package faceswap is swapd's face-swap pipeline: SCRFD or YOLOFace detection,
// similarity alignment to the ArcFace/FFHQ templates, ArcFace identity
// embeddings, face selection (one/many/reference, orders, explicit indexes),
// FaceFusion's swappers (inswapper_128, hyperswap, ghost, SimSwap: swapmodels.go)
// with pixel boost, FaceFusion-style paste-back through the minimum of its box,
// occlusion (XSeg), region (BiSeNet) and area (68-landmark) masks (maskmodels.go)
// with an optional kept mouth, face enhancers (GFPGAN 1.4, CodeFormer, GPEN-BFR)
// and a concurrent video frame pipeline (SwapVideo). It follows FaceFusion's
// order and constants (docs/face-pipeline-facts.md) and knows nothing about
// HTTP, queues or ffmpeg.
//
// A Pipeline is bound to one inference.Device. It does not take device slots
// itself: the caller holds a slot (inference.Pool.Acquire) around each call, so
// one job's detect+swap work is counted once however many stages it runs.
//
// Batching: models whose inputs have a dynamic batch dimension
// (inference.Session.BatchDynamic) get several faces per Run: all swapped faces of
// a frame go through such a swapper in one call (when their paste regions do not
// overlap; overlapping faces are swapped one after another on the output, as
// FaceFusion does, so later crops see earlier swaps), and such a recognizer embeds
// all faces of a frame at once (EmbedFaces, reference selection). Models with a
// fixed batch of 1 — the real inswapper_128, the ArcFace exports, the enhancers —
// get one Run per face. Detection runs one frame per call.
package faceswap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// ModelPaths locates the model files. Detector is required (SCRFD or YOLOFace,
// told apart by signature); Recognizer is needed for Embed and reference
// selection and Swapper for swapping, so a pipeline that only embeds may leave
// Swapper empty. Enhancers maps enhancer names (EnhancerGFPGAN14, …) to files;
// every listed model is opened in New, so list only those the service offers
// (each real one is 75–380 MB).
//
// Swapper is the default swapper (Options.Swapper ""), named after its file when
// the base name is a known model (hyperswap_1a_256.onnx), else inswapper_128.
// Swappers maps further swapper names (SwapperModels) to files, and Converters
// the embedding converters they need (crossface_ghost, crossface_simswap) to
// files. Every listed model is opened once in New; models of any native size run
// under the same device slots.
type ModelPaths struct {
	Detector, Recognizer, Swapper string
	Enhancers                     map[string]string
	Swappers                      map[string]string
	Converters                    map[string]string
	// Occluders (OccluderModels), Parsers (ParserModels) and Landmarkers
	// (LandmarkerModels) map mask model names to files, opened once in New;
	// each is optional and enables a mask type (Pipeline.MaskTypes).
	Occluders, Parsers, Landmarkers map[string]string
}

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
// inference; Paste covers mask and blend; Enhance covers the enhancer's crop,
// inference and paste; Embed includes embedding target faces for reference
// selection.
type Stats struct {
	Detect, Embed, Swap, Paste, Enhance      time.Duration
	TargetFaces, SwappedFaces, EnhancedFaces int
	// Similarity is each swapped face's identity similarity, in the order the
	// faces were swapped: the cosine between the source identity and the
	// recognizer's embedding of the swapped crop; Score is its time (kept apart
	// from Embed, which is the sources' and targets' embedding).
	Similarity []float64
	Score      time.Duration
}

func (s *Stats) add(o Stats) {
	s.Detect += o.Detect
	s.Embed += o.Embed
	s.Score += o.Score
	s.Swap += o.Swap
	s.Paste += o.Paste
	s.Enhance += o.Enhance
	s.TargetFaces += o.TargetFaces
	s.SwappedFaces += o.SwappedFaces
	s.EnhancedFaces += o.EnhancedFaces
	s.Similarity = append(s.Similarity, o.Similarity...)
}

// Pipeline holds one device's sessions, created once in New and reused by every
// call. It is safe for concurrent use.
type Pipeline struct {
	dev      *inference.Device
	sessions []*inference.Session
	det      *Detector
	rec      *Recognizer
	swp      *Swapper            // the default swapper
	swappers map[string]*Swapper // every swapper by model name, the default included
	enh      map[string]*Enhancer
	masks    sync.Map   // maskKey → []float32, read-only once stored
	masker   maskModels // occluders, parsers, landmarkers (maskmodels.go)

	// Test hooks (set by tests only, before any call): dropDetections
	// filters each analysed or swapped video frame's detections, to simulate
	// detector misses; onTracked sees every video frame's faces as the
	// tracking stage hands them to the swap (track ids, held-over flags).
	dropDetections func(seq int, faces []Face) []Face
	onTracked      func(seq int, faces []trackedFace)
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
	p := &Pipeline{dev: dev, enh: map[string]*Enhancer{}, swappers: map[string]*Swapper{}}
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
	if err := p.openSwappers(paths, open); err != nil {
		return fail(err)
	}
	if err := p.openMaskModels(paths, open); err != nil {
		return fail(err)
	}
	names := make([]string, 0, len(paths.Enhancers))
	for name := range paths.Enhancers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := enhancerSpecs[name]; !ok {
			return fail(fmt.Errorf("faceswap: unknown enhancer %q in ModelPaths.Enhancers (want one of %v)", name, EnhancerModels))
		}
		if s, err = open(paths.Enhancers[name]); err != nil {
			return fail(err)
		}
		e, err := NewEnhancer(name, s)
		if err != nil {
			return fail(err)
		}
		p.enh[name] = e
	}
	return p, nil
}

// Enhancers returns the names of the enhancers the pipeline has, sorted.
func (p *Pipeline) Enhancers() []string {
	var names []string
	for n := range p.enh {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DetectorKind returns the detector family in use: DetectorSCRFD or DetectorYOLOFace.
func (p *Pipeline) DetectorKind() string { return p.det.Kind() }

// InferenceStats sums Run calls and the time spent inside them over the
// pipeline's sessions, since they were opened. Sessions are shared per device and
// model file, so runs by other pipelines on the same device are included.
func (p *Pipeline) InferenceStats() (runs int64, busy time.Duration) {
	for _, s := range p.sessions {
		r, b := s.RunStats()
		runs += r
		busy += b
	}
	return runs, busy
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
	opts, err := p.checkEmbed(opts)
	if err != nil {
		return nil, st, err
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

// EmbedFaces returns the identity of every face in frame, ordered left to right
// (box left edge ascending), the numbering SourceIndexes and PairFaces use. It
// fails with ErrNoFaceInSource when the frame has no face.
func (p *Pipeline) EmbedFaces(ctx context.Context, frame media.Frame, opts Options) ([]Embedding, Stats, error) {
	var st Stats
	opts, err := p.checkEmbed(opts)
	if err != nil {
		return nil, st, err
	}
	if err := checkFrame(frame); err != nil {
		return nil, st, err
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	t := time.Now()
	faces, err := p.det.Detect(frame, opts.DetectorSize, opts.DetectorScore)
	st.Detect = time.Since(t)
	if err != nil {
		return nil, st, err
	}
	if len(faces) == 0 {
		return nil, st, ErrNoFaceInSource
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	SortFaces(faces, OrderLeftRight)
	embs, d, err := p.embedAll(frame, faces)
	st.Embed = d
	return embs, st, err
}

// checkEmbed validates what the embedding entry points need and returns opts with
// their defaults.
func (p *Pipeline) checkEmbed(opts Options) (Options, error) {
	if err := opts.Validate(); err != nil {
		return opts, err
	}
	if p.rec == nil {
		return opts, errNoRecognizer
	}
	return opts.WithDefaults(), nil
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

// embedAll embeds faces of frame (batched when the recognizer allows).
func (p *Pipeline) embedAll(frame media.Frame, faces []Face) ([]Embedding, time.Duration, error) {
	if p.rec == nil {
		return nil, 0, errNoRecognizer
	}
	t := time.Now()
	e, err := p.rec.EmbedBatch(frame, faces)
	return e, time.Since(t), err
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
