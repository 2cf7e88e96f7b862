package jobs

import (
	"github.com/swapd/swapd/pkg/errcode"
)

// Options are the client's knobs for a swap, as sent in "options". Zero values mean
// "use the default", so clients send only what they change.
type Options struct {
	FaceSelector  string    `json:"face_selector,omitempty"`  // one (largest face, default) | many
	OutputFormat  string    `json:"output_format,omitempty"`  // jpeg (default) | png
	JPEGQuality   int       `json:"jpeg_quality,omitempty"`   // 1–100, default 90
	DetectorScore float32   `json:"detector_score,omitempty"` // 0–1, default 0.5
	MaskBlur      *float64  `json:"mask_blur,omitempty"`      // 0–1, default 0.3
	MaskPadding   []float64 `json:"mask_padding,omitempty"`   // top, right, bottom, left percent, default 0
}

// Validate reports the first bad field as an INVALID_REQUEST error.
func (o Options) Validate() error {
	switch o.FaceSelector {
	case "", "one", "many":
	default:
		return errcode.New(errcode.InvalidRequest, "options.face_selector %q is not one of one, many", o.FaceSelector)
	}
	switch o.OutputFormat {
	case "", "jpeg", "png":
	default:
		return errcode.New(errcode.InvalidRequest, "options.output_format %q is not one of jpeg, png", o.OutputFormat)
	}
	if o.JPEGQuality < 0 || o.JPEGQuality > 100 {
		return errcode.New(errcode.InvalidRequest, "options.jpeg_quality %d is outside 1–100", o.JPEGQuality)
	}
	if o.DetectorScore < 0 || o.DetectorScore >= 1 {
		return errcode.New(errcode.InvalidRequest, "options.detector_score %g is outside 0–1", o.DetectorScore)
	}
	if o.MaskBlur != nil && (*o.MaskBlur < 0 || *o.MaskBlur > 1) {
		return errcode.New(errcode.InvalidRequest, "options.mask_blur %g is outside 0–1", *o.MaskBlur)
	}
	if len(o.MaskPadding) != 0 && len(o.MaskPadding) != 4 {
		return errcode.New(errcode.InvalidRequest, "options.mask_padding needs 4 values (top, right, bottom, left), got %d", len(o.MaskPadding))
	}
	for _, p := range o.MaskPadding {
		if p < 0 || p > 100 {
			return errcode.New(errcode.InvalidRequest, "options.mask_padding value %g is outside 0–100", p)
		}
	}
	return nil
}

// Format is the output format with the default applied.
func (o Options) Format() string {
	if o.OutputFormat == "" {
		return "jpeg"
	}
	return o.OutputFormat
}
