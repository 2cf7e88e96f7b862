package faceswap

import (
	"fmt"
	"math"
)

// Face selector modes.
const (
	SelectOne  = "one"  // the largest target face
	SelectMany = "many" // every target face
)

// Defaults, from FaceFusion's CLI defaults (facts §2.1, §6.1, §10).
const (
	DefaultDetectorSize  = 640
	DefaultDetectorScore = 0.5
	DefaultMaskBlur      = 0.3

	// MaskBlurNone asks for an unblurred box mask. MaskBlur 0 cannot mean that
	// because the zero value selects the default; any blur below 1/(0.5·crop size)
	// rounds to no blur, and this value does so at every crop size.
	MaskBlurNone = 1e-9
)

// Options tunes one Embed or Swap call. The zero value means "all defaults";
// call WithDefaults to see the effective values.
type Options struct {
	FaceSelector  string     // "one" (default) | "many"
	DetectorSize  int        // square detector canvas, multiple of 32; default 640
	DetectorScore float32    // minimum detection score in (0,1]; default 0.5
	MaskBlur      float64    // box-mask blur in [0,1]; 0 selects the default 0.3, MaskBlurNone disables blurring
	MaskPadding   [4]float64 // top, right, bottom, left, percent of the crop in [0,100]; default 0
}

// WithDefaults fills unset fields with their defaults.
func (o Options) WithDefaults() Options {
	if o.FaceSelector == "" {
		o.FaceSelector = SelectOne
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
	return o
}

// Validate reports the first field with an out-of-range value. Zero values are
// valid (they select the defaults).
func (o Options) Validate() error {
	switch o.FaceSelector {
	case "", SelectOne, SelectMany:
	default:
		return fmt.Errorf("faceswap: FaceSelector %q: want %q or %q", o.FaceSelector, SelectOne, SelectMany)
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
	return nil
}
