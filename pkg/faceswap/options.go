package faceswap

import (
	"fmt"
	"math"
	"slices"
)

// Face selector modes (FaceFusion --face-selector-mode, facts §8).
const (
	SelectOne       = "one"       // the first face after ordering: the largest by default
	SelectMany      = "many"      // every target face
	SelectReference = "reference" // every target face close to Options.Reference
)

// Face orders (FaceFusion --face-selector-order). They rank the detected faces
// before selection: "one" takes the first, "many" and "reference" swap in this
// order (which matters only where faces overlap).
const (
	OrderLeftRight  = "left-right"  // box left edge ascending
	OrderRightLeft  = "right-left"  // box left edge descending
	OrderTopBottom  = "top-bottom"  // box top edge ascending
	OrderBottomTop  = "bottom-top"  // box top edge descending
	OrderSmallLarge = "small-large" // box area ascending
	OrderLargeSmall = "large-small" // box area descending (the default)
	OrderBestWorst  = "best-worst"  // detector score descending
	OrderWorstBest  = "worst-best"  // detector score ascending
)

// Face enhancer models (FaceFusion --face-enhancer-model names). ModelPaths.Enhancers
// maps these names to files.
const (
	EnhancerGFPGAN12        = "gfpgan_1.2"
	EnhancerGFPGAN13        = "gfpgan_1.3"
	EnhancerGFPGAN14        = "gfpgan_1.4"
	EnhancerCodeFormer      = "codeformer"
	EnhancerGPEN256         = "gpen_bfr_256"
	EnhancerGPEN512         = "gpen_bfr_512"
	EnhancerGPEN1024        = "gpen_bfr_1024"
	EnhancerGPEN2048        = "gpen_bfr_2048"
	EnhancerRestoreFormerPP = "restoreformer_plus_plus"
)

// Selectors, Orders and EnhancerModels are every value FaceSelector, Order and
// Enhancer accept besides "" (the default). Validate checks against them, and a
// caller with a vocabulary of its own (pkg/jobs, which the API checks requests
// with before anything reaches a worker) tests its lists against them, so that a
// value added on one side only fails a test instead of a job.
var (
	Selectors = []string{SelectOne, SelectMany, SelectReference}
	Orders    = []string{OrderLeftRight, OrderRightLeft, OrderTopBottom, OrderBottomTop,
		OrderSmallLarge, OrderLargeSmall, OrderBestWorst, OrderWorstBest}
	EnhancerModels = []string{EnhancerGFPGAN12, EnhancerGFPGAN13, EnhancerGFPGAN14, EnhancerCodeFormer,
		EnhancerGPEN256, EnhancerGPEN512, EnhancerGPEN1024, EnhancerGPEN2048, EnhancerRestoreFormerPP}
)

// Defaults, from FaceFusion's CLI defaults (facts §2.1, §4, §6.1, §7, §10).
const (
	DefaultDetectorSize      = 640
	DefaultDetectorScore     = 0.5
	DefaultMaskBlur          = 0.3
	DefaultOrder             = OrderLargeSmall
	DefaultReferenceDistance = 0.3
	DefaultEnhancerBlend     = 80
	DefaultEnhancerWeight    = 0.5

	// MaskBlurNone asks for an unblurred box mask. MaskBlur 0 cannot mean that
	// because the zero value selects the default; any blur below 1/(0.5·crop size)
	// rounds to no blur, and this value does so at every crop size.
	MaskBlurNone = 1e-9

	// EnhancerBlendNone asks for an enhancer blend of 0 % (the enhanced face is
	// not mixed in at all, so the output is the swapped frame). EnhancerBlend 0
	// selects the default 80.
	EnhancerBlendNone = 1e-9

	// EnhancerWeightNone asks for a CodeFormer weight of (practically) 0: most
	// restoration, least fidelity to the input face. EnhancerWeight 0 selects
	// the default 0.5.
	EnhancerWeightNone = 1e-9
)

// Options tunes one call. The zero value means "all defaults"; call WithDefaults
// to see the effective values.
//
// Target faces are chosen in one of two ways:
//
//   - By selector (TargetIndexes empty or [-1]): the detected faces are ranked by
//     Order, then FaceSelector keeps the first (one), all (many), or those within
//     ReferenceDistance of Reference (reference).
//   - By index (TargetIndexes set): faces are numbered 0, 1, … from left to right
//     (box left edge ascending, as the RunPod inswapper worker does) and the listed
//     ones are swapped; FaceSelector and Order are ignored. SourceIndexes picks
//     source faces the same way for SwapIndexed; see PairFaces for the pairing.
type Options struct {
	FaceSelector string // "one" (default) | "many" | "reference"
	// Order ranks faces before selection; default large-small.
	Order string
	// Reference is the identity "reference" mode looks for, usually
	// EmbedFaces(reference frame)[i] or Embed of a reference image. Empty, the
	// reference is a face of the target itself (ReferenceFace). Ignored in the
	// other modes.
	Reference Embedding
	// ReferenceFace picks the reference from the target when Reference is empty:
	// the target face at this 0-based position after ordering by Order; for a
	// video, in its first frame, so that every frame looks for the person first
	// seen there. The pipeline picks it rather than the caller so that the target
	// (or first frame) is detected and read once. A position beyond the faces found
	// is a *ReferenceFaceError.
	ReferenceFace int
	// ReferenceDistance is the largest FaceFusion face distance, in (0,1], at which
	// a target face matches Reference; default 0.3. See FaceDistance.
	ReferenceDistance float64
	// TargetIndexes lists target faces by their left-to-right index (0-based).
	// nil, empty or [-1] means "use FaceSelector".
	TargetIndexes []int
	// SourceIndexes lists source faces (of SwapIndexed's sources, left to right,
	// 0-based). nil, empty or [-1] means automatic pairing.
	SourceIndexes []int

	DetectorSize  int        // square detector canvas, multiple of 32; default 640 (static-size models use their own)
	DetectorScore float32    // minimum detection score in (0,1]; default 0.5
	MaskBlur      float64    // box-mask blur in [0,1]; 0 selects the default 0.3, MaskBlurNone disables blurring
	MaskPadding   [4]float64 // top, right, bottom, left, percent of the crop in [0,100]; default 0
	// MouthMask keeps the target's own mouth: a feathered region around the two
	// mouth-corner landmarks is left out of the paste mask (see MouthMask).
	MouthMask bool
	// MaskTypes lists the masks the paste mask is the element-wise minimum of
	// (MaskTypeNames: box, occlusion, region, area); empty means [box]. The
	// model masks need the pipeline to have the model (MaskTypes()).
	MaskTypes []string
	// OccluderModel picks the occlusion model: one of OccluderModels,
	// OccluderMany (all configured ones, element-wise minimum), or "" for the
	// pipeline's default (xseg_1 when configured).
	OccluderModel string
	// ParserModel picks the face parser of region masks: one of ParserModels,
	// or "" for the pipeline's default (bisenet_resnet_34 when configured).
	ParserModel string
	// MaskRegions are the face regions a region mask keeps (MaskRegions);
	// empty means all of them.
	MaskRegions []string
	// MaskAreas are the face areas an area mask keeps (MaskAreas); empty
	// means all of them.
	MaskAreas []string

	// Enhancer restores each swapped face with a face enhancer after the swap:
	// "" (none) or one of EnhancerModels. The model must be configured in
	// ModelPaths.Enhancers.
	Enhancer string
	// EnhancerBlend is the percentage of the enhanced face in the result, in
	// (0,100]; 0 selects the default 80, EnhancerBlendNone blends none of it.
	EnhancerBlend float64
	// EnhancerWeight is FaceFusion's --face-enhancer-weight in (0,1], fed to
	// models with a weight input (CodeFormer's fidelity weight); 0 selects the
	// default 0.5. Enhancers without a weight input ignore it.
	EnhancerWeight float64

	// Swapper picks the swapper model by name (SwapperModels); "" is the
	// pipeline's default (ModelPaths.Swapper). The model must be configured.
	Swapper string
	// SwapperWeight is FaceFusion's --face-swapper-weight in [0,1]: 0.5 (the
	// default) uses the source identity as is, lower values mix in the target
	// face's own identity, higher ones push away from it. 0 selects the default;
	// SwapperWeightNone asks for 0.
	SwapperWeight float64
	// PixelBoost is the side the face is warped at (PixelBoostSizes, a multiple
	// of the model's native size): the crop is split into k² polyphase
	// sub-images, each swapped at the native size, and re-interleaved. 0 is the
	// native size.
	PixelBoost int

	// TrackHold is how many frames a tracked face of a video may go undetected
	// and still be swapped, at landmarks interpolated across the gap (see
	// tracking.go); 0 selects DefaultTrackHold, TrackHoldNone turns hold-over off.
	TrackHold int
	// NoSmoothing turns off the temporal smoothing of video landmarks (see
	// smooth.go); it is there to measure what smoothing does.
	NoSmoothing bool
}

// WithDefaults fills unset fields with their defaults.
func (o Options) WithDefaults() Options {
	if o.FaceSelector == "" {
		o.FaceSelector = SelectOne
	}
	if o.Order == "" {
		o.Order = DefaultOrder
	}
	if o.ReferenceDistance == 0 {
		o.ReferenceDistance = DefaultReferenceDistance
	}
	if o.DetectorSize == 0 {
		o.DetectorSize = DefaultDetectorSize
	}
	if o.DetectorScore == 0 {
		o.DetectorScore = DefaultDetectorScore
	}
	if o.MaskBlur == 0 {
		o.MaskBlur = DefaultMaskBlur
	}
	if o.EnhancerBlend == 0 {
		o.EnhancerBlend = DefaultEnhancerBlend
	}
	if o.EnhancerWeight == 0 {
		o.EnhancerWeight = DefaultEnhancerWeight
	}
	if o.SwapperWeight == 0 {
		o.SwapperWeight = DefaultSwapperWeight
	}
	return o
}

// Validate reports the first field with an out-of-range value. Zero values are
// valid (they select the defaults).
func (o Options) Validate() error {
	if o.FaceSelector != "" && !slices.Contains(Selectors, o.FaceSelector) {
		return fmt.Errorf("faceswap: FaceSelector %q: want %q, %q or %q", o.FaceSelector, SelectOne, SelectMany, SelectReference)
	}
	if o.FaceSelector == SelectReference && len(o.Reference) > 0 {
		if len(o.Reference) != EmbeddingSize {
			return fmt.Errorf("faceswap: FaceSelector %q needs a Reference embedding of %d values, got %d",
				SelectReference, EmbeddingSize, len(o.Reference))
		}
		if _, ok := normalize(o.Reference); !ok {
			return fmt.Errorf("faceswap: Reference embedding is zero or not finite")
		}
	}
	if o.ReferenceFace < 0 {
		return fmt.Errorf("faceswap: ReferenceFace %d: want a 0-based face position", o.ReferenceFace)
	}
	if o.Order != "" && !slices.Contains(Orders, o.Order) {
		return fmt.Errorf("faceswap: Order %q: want one of left-right, right-left, top-bottom, bottom-top, small-large, large-small, best-worst, worst-best", o.Order)
	}
	if d := o.ReferenceDistance; math.IsNaN(d) || d < 0 || d > 1 {
		return fmt.Errorf("faceswap: ReferenceDistance %v: want a value in (0,1]", d)
	}
	if err := checkIndexes("TargetIndexes", o.TargetIndexes, true); err != nil {
		return err
	}
	if err := checkIndexes("SourceIndexes", o.SourceIndexes, false); err != nil {
		return err
	}
	if !autoIndexes(o.TargetIndexes) && !autoIndexes(o.SourceIndexes) && len(o.TargetIndexes) != len(o.SourceIndexes) {
		return fmt.Errorf("faceswap: %d SourceIndexes for %d TargetIndexes: explicit lists must pair up one to one",
			len(o.SourceIndexes), len(o.TargetIndexes))
	}
	if o.DetectorSize != 0 && (o.DetectorSize < 32 || o.DetectorSize > 2048 || o.DetectorSize%32 != 0) {
		return fmt.Errorf("faceswap: DetectorSize %d: want a multiple of 32 between 32 and 2048", o.DetectorSize)
	}
	if s := float64(o.DetectorScore); math.IsNaN(s) || s < 0 || s > 1 {
		return fmt.Errorf("faceswap: DetectorScore %v: want a value in (0,1]", o.DetectorScore)
	}
	if math.IsNaN(o.MaskBlur) || o.MaskBlur < 0 || o.MaskBlur > 1 {
		return fmt.Errorf("faceswap: MaskBlur %v: want a value in [0,1]", o.MaskBlur)
	}
	for i, p := range o.MaskPadding {
		if math.IsNaN(p) || p < 0 || p > 100 {
			return fmt.Errorf("faceswap: MaskPadding[%d] (%s) %v: want a percentage in [0,100]",
				i, [4]string{"top", "right", "bottom", "left"}[i], p)
		}
	}
	if o.Enhancer != "" && !slices.Contains(EnhancerModels, o.Enhancer) {
		return fmt.Errorf("faceswap: Enhancer %q: want one of %v (or empty for none)", o.Enhancer, EnhancerModels)
	}
	if b := o.EnhancerBlend; math.IsNaN(b) || b < 0 || b > 100 {
		return fmt.Errorf("faceswap: EnhancerBlend %v: want a percentage in (0,100]", b)
	}
	if w := o.EnhancerWeight; math.IsNaN(w) || w < 0 || w > 1 {
		return fmt.Errorf("faceswap: EnhancerWeight %v: want a value in (0,1]", w)
	}
	if err := checkMaskOptions(o); err != nil {
		return err
	}
	if err := checkTrackOptions(o); err != nil {
		return err
	}
	return checkSwapperOptions(o)
}

// autoIndexes reports whether an index list means "automatic": nil, empty or [-1].
func autoIndexes(ix []int) bool {
	return len(ix) == 0 || (len(ix) == 1 && ix[0] == -1)
}

func checkIndexes(field string, ix []int, unique bool) error {
	if autoIndexes(ix) {
		return nil
	}
	seen := map[int]bool{}
	for _, i := range ix {
		if i < 0 {
			return fmt.Errorf("faceswap: %s %v: indexes are 0-based; -1 (automatic) must stand alone", field, ix)
		}
		if unique && seen[i] {
			return fmt.Errorf("faceswap: %s %v: face %d listed twice", field, ix, i)
		}
		seen[i] = true
	}
	return nil
}
