package jobs

import (
	"github.com/swapd/swapd/pkg/errcode"
)

// Options are the client's knobs for a swap, as sent in "options". Zero values mean
// "use the default", so clients send only what they change. The worker maps them onto
// the pipeline's own options; the API validates them before anything is queued.
type Options struct {
	// Face selection.
	FaceSelector          string   `json:"face_selector,omitempty"`           // one (default) | many | reference
	FaceOrder             string   `json:"face_order,omitempty"`              // left-right … (see FaceOrders); one picks the first, default large-small
	ReferenceDistance     *float64 `json:"reference_distance,omitempty"`      // reference mode: keep faces closer than this (0–1, default 0.3)
	ReferenceFacePosition int      `json:"reference_face_position,omitempty"` // reference mode without a reference image: which target face (after ordering) is the reference
	TargetIndexes         []int    `json:"target_indexes,omitempty"`          // explicit target faces, left to right, 0-based
	SourceIndexes         []int    `json:"source_indexes,omitempty"`          // explicit source faces paired with TargetIndexes
	DetectorSize          int      `json:"detector_size,omitempty"`           // multiple of 32, 160–1280, default 640
	DetectorScore         float32  `json:"detector_score,omitempty"`          // 0–1, default 0.5

	// Masks and enhancement.
	MaskBlur         *float64  `json:"mask_blur,omitempty"`         // 0–1, default 0.3
	MaskPadding      []float64 `json:"mask_padding,omitempty"`      // top, right, bottom, left percent, default 0
	MouthMask        bool      `json:"mouth_mask,omitempty"`        // keep the target's own mouth
	MaskTypes        []string  `json:"mask_types,omitempty"`        // any of MaskTypes, combined by minimum; default [box] (masks.go)
	OccluderModel    string    `json:"occluder_model,omitempty"`    // occlusion: "" (the worker's default) | one of Occluders | many
	ParserModel      string    `json:"parser_model,omitempty"`      // region: "" (the worker's default) | one of Parsers
	MaskRegions      []string  `json:"mask_regions,omitempty"`      // region: any of MaskRegions, default all
	MaskAreas        []string  `json:"mask_areas,omitempty"`        // area: any of MaskAreas, default all
	Enhancer         string    `json:"enhancer,omitempty"`          // "" | one of Enhancers
	EnhancerBlend    *int      `json:"enhancer_blend,omitempty"`    // 0–100, default 80
	CodeFormerWeight *float64  `json:"codeformer_weight,omitempty"` // 0–1, default 0.5

	// Swapper model.
	Swapper       string   `json:"swapper,omitempty"`        // "" (the worker's default) | one of Swappers; some worker must offer it
	SwapperWeight *float64 `json:"swapper_weight,omitempty"` // 0–1, default 0.5 (FaceFusion's --face-swapper-weight)
	PixelBoost    int      `json:"pixel_boost,omitempty"`    // one of PixelBoosts, a multiple of the model's size; default the model's size

	// Quality report: output.similarity is always reported; these act on it.
	MinSimilarity   *float64 `json:"min_similarity,omitempty"`    // 0–1: output.low_similarity when a face (an image) or the p10 (a video) is below it
	OnLowSimilarity string   `json:"on_low_similarity,omitempty"` // flag (default) | fail: the job fails with LOW_SIMILARITY

	// Output.
	OutputFormat string `json:"output_format,omitempty"` // images: jpeg (default) | png
	JPEGQuality  int    `json:"jpeg_quality,omitempty"`  // 1–100, default 90
	VideoEncoder string `json:"video_encoder,omitempty"` // libx264 (default) | libx265 | h264_nvenc
	VideoQuality *int   `json:"video_quality,omitempty"` // 0–100, default 80 (crf = 51 − 0.51·q)
	VideoHDR     string `json:"video_hdr,omitempty"`     // HDR (PQ/HLG) targets: tonemap (default, to BT.709 SDR) | keep (10-bit HEVC, tags and metadata kept)

	// Analyze jobs and mapped swaps (mapping.go).
	AnalyzeStride int       `json:"analyze_stride,omitempty"` // analyze jobs on a video: detect on every n-th frame, 1–30 (default 1, every frame)
	TrackHold     *int      `json:"track_hold,omitempty"`     // videos: frames a lost face track is held before it ends, 0–30 (default the pipeline's; 0: no hold)
	Analysis      string    `json:"analysis,omitempty"`       // mapped swaps: the analyze job whose identities or faces the mappings name
	Mappings      []Mapping `json:"mappings,omitempty"`       // mapped swaps: each mapped person gets its own sources
	Unmapped      string    `json:"unmapped,omitempty"`       // mapped swaps: keep (default) | blur the faces no mapping picks
}

// FaceOrders are the orders faces can be sorted in before selection.
var FaceOrders = []string{"left-right", "right-left", "top-bottom", "bottom-top", "small-large", "large-small", "best-worst", "worst-best"}

// OnLowSimilarity values: what a similarity below options.min_similarity does.
const (
	LowSimilarityFlag = "flag" // set output.low_similarity (the default)
	LowSimilarityFail = "fail" // fail the job with LOW_SIMILARITY
)

// Enhancers are the face enhancers a worker may offer.
var Enhancers = []string{"gfpgan_1.2", "gfpgan_1.3", "gfpgan_1.4", "codeformer", "gpen_bfr_256", "gpen_bfr_512",
	"gpen_bfr_1024", "gpen_bfr_2048", "restoreformer_plus_plus"}

// Swappers are the swapper models a worker may offer, with their native crop
// sides (FaceFusion's face_swapper models).
var Swappers = []string{"inswapper_128", "inswapper_128_fp16", "hyperswap_1a_256", "hyperswap_1b_256", "hyperswap_1c_256",
	"ghost_1_256", "ghost_2_256", "ghost_3_256", "simswap_256", "simswap_unofficial_512"}

// SwapperSize is a swapper model's native crop side (0 for an unknown name).
func SwapperSize(name string) int {
	switch name {
	case "inswapper_128", "inswapper_128_fp16":
		return 128
	case "simswap_unofficial_512":
		return 512
	}
	if oneOf(name, Swappers) {
		return 256
	}
	return 0
}

// PixelBoosts are the accepted options.pixel_boost sizes.
var PixelBoosts = []int{128, 256, 384, 512, 768, 1024}

// VideoEncoders are the accepted output encoders.
var VideoEncoders = []string{"libx264", "libx265", "h264_nvenc"}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func bad(format string, args ...any) error {
	return errcode.New(errcode.InvalidRequest, format, args...)
}

// Validate reports the first bad field as an INVALID_REQUEST error.
func (o Options) Validate() error {
	switch o.FaceSelector {
	case "", "one", "many", "reference":
	default:
		return bad("options.face_selector %q is not one of one, many, reference", o.FaceSelector)
	}
	if o.FaceOrder != "" && !oneOf(o.FaceOrder, FaceOrders) {
		return bad("options.face_order %q is not one of %v", o.FaceOrder, FaceOrders)
	}
	if o.ReferenceDistance != nil && (*o.ReferenceDistance <= 0 || *o.ReferenceDistance > 1) {
		return bad("options.reference_distance %g is outside (0, 1]", *o.ReferenceDistance)
	}
	if o.MinSimilarity != nil && (*o.MinSimilarity < 0 || *o.MinSimilarity > 1) {
		return bad("options.min_similarity %g is outside 0–1", *o.MinSimilarity)
	}
	if o.OnLowSimilarity != "" && o.OnLowSimilarity != LowSimilarityFlag && o.OnLowSimilarity != LowSimilarityFail {
		return bad("options.on_low_similarity %q is not %q or %q", o.OnLowSimilarity, LowSimilarityFlag, LowSimilarityFail)
	}
	if o.OnLowSimilarity == LowSimilarityFail && o.MinSimilarity == nil {
		return bad("options.on_low_similarity %q needs options.min_similarity", LowSimilarityFail)
	}
	if o.ReferenceFacePosition < 0 {
		return bad("options.reference_face_position must not be negative")
	}
	for _, list := range [][]int{o.TargetIndexes, o.SourceIndexes} {
		for _, i := range list {
			if i < -1 || i > 255 {
				return bad("face index %d is outside -1–255", i)
			}
		}
	}
	seen := map[int]bool{}
	for _, i := range o.TargetIndexes {
		if seen[i] {
			return bad("options.target_indexes names face %d twice; each target face is swapped once", i)
		}
		seen[i] = true
	}
	if len(o.SourceIndexes) > 0 && len(o.TargetIndexes) > 0 && len(o.SourceIndexes) != len(o.TargetIndexes) && !(len(o.SourceIndexes) == 1) {
		return bad("options.source_indexes and target_indexes need the same length (or one source index)")
	}
	if o.DetectorSize != 0 && (o.DetectorSize%32 != 0 || o.DetectorSize < 160 || o.DetectorSize > 1280) {
		return bad("options.detector_size %d must be a multiple of 32 between 160 and 1280", o.DetectorSize)
	}
	if o.DetectorScore < 0 || o.DetectorScore >= 1 {
		return bad("options.detector_score %g is outside 0–1", o.DetectorScore)
	}
	if o.MaskBlur != nil && (*o.MaskBlur < 0 || *o.MaskBlur > 1) {
		return bad("options.mask_blur %g is outside 0–1", *o.MaskBlur)
	}
	if len(o.MaskPadding) != 0 && len(o.MaskPadding) != 4 {
		return bad("options.mask_padding needs 4 values (top, right, bottom, left), got %d", len(o.MaskPadding))
	}
	for _, p := range o.MaskPadding {
		if p < 0 || p > 100 {
			return bad("options.mask_padding value %g is outside 0–100", p)
		}
	}
	if err := o.validateMasks(); err != nil {
		return err
	}
	if o.Enhancer != "" && !oneOf(o.Enhancer, Enhancers) {
		return bad("options.enhancer %q is not one of %v", o.Enhancer, Enhancers)
	}
	if o.EnhancerBlend != nil && (*o.EnhancerBlend < 0 || *o.EnhancerBlend > 100) {
		return bad("options.enhancer_blend %d is outside 0–100", *o.EnhancerBlend)
	}
	if o.CodeFormerWeight != nil && (*o.CodeFormerWeight < 0 || *o.CodeFormerWeight > 1) {
		return bad("options.codeformer_weight %g is outside 0–1", *o.CodeFormerWeight)
	}
	if o.Swapper != "" && !oneOf(o.Swapper, Swappers) {
		return bad("options.swapper %q is not one of %v", o.Swapper, Swappers)
	}
	if o.SwapperWeight != nil && (*o.SwapperWeight < 0 || *o.SwapperWeight > 1) {
		return bad("options.swapper_weight %g is outside 0–1", *o.SwapperWeight)
	}
	if o.PixelBoost != 0 {
		ok := false
		for _, b := range PixelBoosts {
			ok = ok || b == o.PixelBoost
		}
		if !ok {
			return bad("options.pixel_boost %d is not one of %v", o.PixelBoost, PixelBoosts)
		}
		if n := SwapperSize(o.Swapper); n != 0 && (o.PixelBoost < n || o.PixelBoost%n != 0) {
			return bad("options.pixel_boost %d is not a multiple of %s's %d px", o.PixelBoost, o.Swapper, n)
		}
	}
	if err := o.validateMappings(); err != nil {
		return err
	}
	switch o.OutputFormat {
	case "", "jpeg", "png":
	default:
		return bad("options.output_format %q is not one of jpeg, png", o.OutputFormat)
	}
	if o.JPEGQuality < 0 || o.JPEGQuality > 100 {
		return bad("options.jpeg_quality %d is outside 1–100", o.JPEGQuality)
	}
	if o.VideoEncoder != "" && !oneOf(o.VideoEncoder, VideoEncoders) {
		return bad("options.video_encoder %q is not one of %v", o.VideoEncoder, VideoEncoders)
	}
	if o.VideoQuality != nil && (*o.VideoQuality < 0 || *o.VideoQuality > 100) {
		return bad("options.video_quality %d is outside 0–100", *o.VideoQuality)
	}
	switch o.VideoHDR {
	case "", "tonemap":
	case "keep":
		// Keeping HDR writes 10-bit HEVC with libx265 (when the target is HDR).
		if o.VideoEncoder != "" && o.VideoEncoder != "libx265" {
			return bad("options.video_hdr keep writes 10-bit HEVC with libx265; options.video_encoder %q cannot be used with it", o.VideoEncoder)
		}
	default:
		return bad("options.video_hdr %q is not one of tonemap, keep", o.VideoHDR)
	}
	return nil
}

// Format is the image output format with the default applied.
func (o Options) Format() string {
	if o.OutputFormat == "" {
		return "jpeg"
	}
	return o.OutputFormat
}
