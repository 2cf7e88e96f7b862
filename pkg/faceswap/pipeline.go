// Package faceswap is swapd's face-swap pipeline: SCRFD or YOLOFace detection,
// similarity alignment to the ArcFace/FFHQ templates, ArcFace identity
// embeddings, face selection (one/many/reference, orders, explicit indexes),
// inswapper_128, FaceFusion-style box-mask paste-back with an optional kept mouth,
// face enhancers (GFPGAN 1.4, CodeFormer, GPEN-BFR) and a concurrent video frame
// pipeline (SwapVideo). It follows FaceFusion's order and constants
// (docs/face-pipeline-facts.md) and knows nothing about HTTP, queues or ffmpeg.
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
type ModelPaths struct {
	Detector, Recognizer, Swapper string
	Enhancers                     map[string]string
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
}

func (s *Stats) add(o Stats) {
	s.Detect += o.Detect
	s.Embed += o.Embed
	s.Swap += o.Swap
	s.Paste += o.Paste
	s.Enhance += o.Enhance
	s.TargetFaces += o.TargetFaces
	s.SwappedFaces += o.SwappedFaces
	s.EnhancedFaces += o.EnhancedFaces
}

// Pipeline holds one device's sessions, created once in New and reused by every
// call. It is safe for concurrent use.
type Pipeline struct {
	dev      *inference.Device
	sessions []*inference.Session
	det      *Detector
	rec      *Recognizer
	swp      *Swapper
	enh      map[string]*Enhancer
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
	p := &Pipeline{dev: dev, enh: map[string]*Enhancer{}}
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
	names := make([]string, 0, len(paths.Enhancers))
	for name := range paths.Enhancers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := enhancerSpecs[name]; !ok {
			return fail(fmt.Errorf("faceswap: unknown enhancer %q in ModelPaths.Enhancers (want %s, %s, %s or %s)",
				name, EnhancerGFPGAN14, EnhancerCodeFormer, EnhancerGPEN256, EnhancerGPEN512))
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

// EmbedFaces returns the identity of every face in frame, ordered left to right
// (box left edge ascending), the numbering SourceIndexes and PairFaces use. It
// fails with ErrNoFaceInSource when the frame has no face.
func (p *Pipeline) EmbedFaces(ctx context.Context, frame media.Frame, opts Options) ([]Embedding, Stats, error) {
	var st Stats
	if err := opts.Validate(); err != nil {
		return nil, st, err
	}
	opts = opts.WithDefaults()
	if p.rec == nil {
		return nil, st, errNoRecognizer
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

// detectTarget finds target's faces, adding the time to st; a target without a face
// is ErrNoFaceInTarget.
func (p *Pipeline) detectTarget(ctx context.Context, target media.Frame, opts Options, st *Stats) ([]Face, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := time.Now()
	faces, err := p.det.Detect(target, opts.DetectorSize, opts.DetectorScore)
	st.Detect += time.Since(t)
	st.TargetFaces = len(faces)
	if err == nil && len(faces) == 0 {
		err = ErrNoFaceInTarget
	}
	return faces, err
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

// Swap replaces target faces with the identity src and returns a new frame
// (target is not modified). Faces are chosen by opts (see Options): by default the
// largest one. It fails with ErrNoFaceInTarget when the target has no face,
// ErrNoFaceSelected when the selection keeps none, an ErrFaceIndex error for a
// TargetIndexes entry beyond the faces found, and with ctx's error when ctx ends,
// checked between steps and between faces. With opts.Enhancer set the swapped
// faces are then enhanced.
func (p *Pipeline) Swap(ctx context.Context, target media.Frame, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	if !autoIndexes(opts.TargetIndexes) || !autoIndexes(opts.SourceIndexes) {
		return p.SwapIndexed(ctx, target, []Embedding{src}, opts)
	}
	opts = opts.WithDefaults()
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	if err := ctx.Err(); err != nil {
		return media.Frame{}, st, err
	}
	sel, et, err := p.selectFaces(target, faces, opts, false)
	st.Embed += et
	if err != nil {
		return media.Frame{}, st, err
	}
	if len(sel) == 0 {
		return media.Frame{}, st, ErrNoFaceSelected
	}
	t := time.Now()
	latent, err := p.swp.Latent(src)
	st.Swap += time.Since(t)
	if err != nil {
		return media.Frame{}, st, err
	}
	items := make([]swapItem, len(sel))
	for i, f := range sel {
		items[i] = swapItem{f, latent}
	}
	out := target.Clone()
	err = p.process(ctx, out, items, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	return out, st, nil
}

// SwapFaces swaps the given faces (from an earlier Detect, e.g. on a reference
// frame of a video) without detecting or selecting, and returns a new frame.
// opts supplies the mask and enhancer settings; the enhancer, if any, works on the
// same faces.
func (p *Pipeline) SwapFaces(ctx context.Context, target media.Frame, faces []Face, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	t := time.Now()
	latent, err := p.swp.Latent(src)
	st.Swap = time.Since(t)
	if err != nil {
		return media.Frame{}, st, err
	}
	items := make([]swapItem, len(faces))
	for i, f := range faces {
		items[i] = swapItem{f, latent}
	}
	out := target.Clone()
	if err := p.process(ctx, out, items, opts, &st); err != nil {
		return media.Frame{}, st, err
	}
	return out, st, nil
}

// Assignment asks for one target face, by left-to-right index (0-based), to get
// the identity Source.
type Assignment struct {
	Target int
	Source Embedding
}

// SwapAssigned swaps each assignment's target face (faces numbered left to right)
// with its own identity and returns a new frame. A target index beyond the faces
// found is an error wrapping ErrFaceIndex; a face assigned twice is an error.
// Selection fields of opts are ignored; masks and enhancer apply.
func (p *Pipeline) SwapAssigned(ctx context.Context, target media.Frame, as []Assignment, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if len(as) == 0 {
		return media.Frame{}, st, errors.New("faceswap: no assignments")
	}
	seen := map[int]bool{}
	for _, a := range as {
		if a.Target < 0 || seen[a.Target] {
			return media.Frame{}, st, fmt.Errorf("faceswap: assignment target %d negative or repeated", a.Target)
		}
		seen[a.Target] = true
	}
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	SortFaces(faces, OrderLeftRight)
	out, err := p.swapAssignments(ctx, target, faces, as, opts, &st)
	return out, st, err
}

// swapAssignments swaps each assignment into faces (numbered left to right), computing
// each distinct source's latent once, and returns the new frame.
func (p *Pipeline) swapAssignments(ctx context.Context, target media.Frame, faces []Face, as []Assignment, opts Options, st *Stats) (media.Frame, error) {
	items := make([]swapItem, 0, len(as))
	latents := map[*float32][]float32{}
	for _, a := range as {
		if a.Target >= len(faces) {
			return media.Frame{}, fmt.Errorf("%w: target face %d, but the target has %d", ErrFaceIndex, a.Target, len(faces))
		}
		if len(a.Source) == 0 {
			return media.Frame{}, fmt.Errorf("faceswap: assignment for target face %d has no source embedding", a.Target)
		}
		t := time.Now()
		l, ok := latents[&a.Source[0]]
		if !ok {
			var err error
			if l, err = p.swp.Latent(a.Source); err != nil {
				return media.Frame{}, err
			}
			latents[&a.Source[0]] = l
		}
		st.Swap += time.Since(t)
		items = append(items, swapItem{faces[a.Target], l})
	}
	out := target.Clone()
	if err := p.process(ctx, out, items, opts, st); err != nil {
		return media.Frame{}, err
	}
	return out, nil
}

// SwapIndexed swaps faces of target with source identities (typically
// EmbedFaces of a source image, left to right) paired by opts.SourceIndexes and
// opts.TargetIndexes following PairFaces (the RunPod worker's rules). Errors as
// PairFaces and Swap.
func (p *Pipeline) SwapIndexed(ctx context.Context, target media.Frame, sources []Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if len(sources) == 0 {
		return media.Frame{}, st, ErrNoFaceInSource
	}
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	pairs, err := PairFaces(len(sources), len(faces), opts.SourceIndexes, opts.TargetIndexes)
	if err != nil {
		return media.Frame{}, st, err
	}
	SortFaces(faces, OrderLeftRight)
	as := make([]Assignment, len(pairs))
	for i, pr := range pairs {
		as[i] = Assignment{Target: pr.Target, Source: sources[pr.Source]}
	}
	out, err := p.swapAssignments(ctx, target, faces, as, opts, &st)
	return out, st, err
}

// checkSwap validates what every swap entry point needs.
func (p *Pipeline) checkSwap(target media.Frame, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if p.swp == nil {
		return errNoSwapper
	}
	if err := p.checkEnhancer(opts); err != nil {
		return err
	}
	return checkFrame(target)
}

func (p *Pipeline) checkEnhancer(opts Options) error {
	if opts.Enhancer == "" {
		return nil
	}
	if _, ok := p.enh[opts.Enhancer]; !ok {
		return fmt.Errorf("faceswap: enhancer %q is not configured (have %v)", opts.Enhancer, p.Enhancers())
	}
	return nil
}

// swapItem is one face to swap and the swapper latent of its new identity.
type swapItem struct {
	face   Face
	latent []float32
}

// process swaps items into frame in place, then enhances them.
func (p *Pipeline) process(ctx context.Context, frame media.Frame, items []swapItem, opts Options, st *Stats) error {
	if err := p.swapInto(ctx, frame, items, opts, st); err != nil {
		return err
	}
	faces := make([]Face, len(items))
	for i, it := range items {
		faces[i] = it.face
	}
	return p.enhanceInto(ctx, frame, faces, opts, st)
}

// swapInto swaps items into frame in place. With a batching swapper and faces
// whose paste regions do not overlap, all crops go through one Run (the crops are
// then the same as when swapping one after another, since no paste touches
// another face's crop); otherwise faces are swapped one after another on the
// frame, as FaceFusion does, so overlapping faces blend consistently.
func (p *Pipeline) swapInto(ctx context.Context, frame media.Frame, items []swapItem, opts Options, st *Stats) error {
	size := p.swp.Size()
	box := p.boxMask(size, opts.MaskBlur, opts.MaskPadding)
	paste := func(f Face, crop []float32, m Affine) {
		t := time.Now()
		mask := box
		if opts.MouthMask {
			mask = append([]float32(nil), box...)
			keepMouth(mask, size, m.Apply(f.Landmarks[3]), m.Apply(f.Landmarks[4]))
		}
		PasteBack(frame, crop, mask, size, m)
		st.Paste += time.Since(t)
		st.SwappedFaces++
	}
	if len(items) > 1 && p.swp.Batched() && !overlapping(items, size, frame.Width, frame.Height) {
		if err := ctx.Err(); err != nil {
			return err
		}
		faces := make([]Face, len(items))
		latents := make([][]float32, len(items))
		for i, it := range items {
			faces[i], latents[i] = it.face, it.latent
		}
		t := time.Now()
		crops, ms, err := p.swp.SwapBatch(frame, faces, latents)
		st.Swap += time.Since(t)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range items {
			paste(faces[i], crops[i], ms[i])
		}
		return nil
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		crop, m, err := p.swp.SwapFace(frame, it.face, it.latent)
		st.Swap += time.Since(t)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		paste(it.face, crop, m)
	}
	return nil
}

// overlapping reports whether any two items' paste regions, grown by the one
// pixel a bilinear tap reaches, intersect.
func overlapping(items []swapItem, size, w, h int) bool {
	type rect struct{ x1, y1, x2, y2 int }
	rs := make([]rect, 0, len(items))
	for _, it := range items {
		m := AlignTransform(it.face.Landmarks, ArcFace128, size)
		x1, y1, x2, y2, ok := PasteRegion(m, size, w, h)
		if !ok {
			continue
		}
		r := rect{x1 - 1, y1 - 1, x2 + 1, y2 + 1}
		for _, q := range rs {
			if r.x1 < q.x2 && q.x1 < r.x2 && r.y1 < q.y2 && q.y1 < r.y2 {
				return true
			}
		}
		rs = append(rs, r)
	}
	return false
}

// enhanceInto runs opts.Enhancer over faces of frame in place. The faces carry
// the landmarks detected on the original target frame.
func (p *Pipeline) enhanceInto(ctx context.Context, frame media.Frame, faces []Face, opts Options, st *Stats) error {
	if opts.Enhancer == "" || len(faces) == 0 {
		return nil
	}
	e, ok := p.enh[opts.Enhancer]
	if !ok {
		return p.checkEnhancer(opts)
	}
	blend := opts.EnhancerBlend / 100
	if blend*255 < 0.5 {
		return nil // no pixel could change by even half a level
	}
	// FaceFusion's enhancer uses the box mask with the configured blur and no padding.
	mask := p.boxMask(e.Size(), opts.MaskBlur, [4]float64{})
	for _, f := range faces {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		err := e.Enhance(frame, f, mask, blend, opts.EnhancerWeight)
		st.Enhance += time.Since(t)
		if err != nil {
			return err
		}
		st.EnhancedFaces++
	}
	return nil
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
