package runpod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// File is an input image or video as a RunPod request gives it: a URL the worker
// fetches, or base64 (bare, or a data: URL) that the API stores. Exactly one is set.
type File struct {
	URL    string
	Base64 string
}

// Input is a parsed RunPod input: what to submit to swapd.
type Input struct {
	Via     string // ViaFiles or ViaInswapper
	Kind    jobs.Kind
	Source  *File // nil for a probe
	Target  *File // nil for a probe
	Options jobs.Options
}

// ParseInput reads the request's input in whichever of the two schemas its fields
// name: source_image/target_image is runpod-worker-inswapper's schema; process_type,
// source_file or target_file is the files schema. Unknown fields are ignored, as
// RunPod workers ignore them; a field of the wrong type or a value out of range is an
// INVALID_REQUEST error whose message names the field.
func ParseInput(raw json.RawMessage) (*Input, error) {
	raw = bytes.TrimSpace(raw)
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, invalid("input must be a JSON object")
	}
	f := fieldSet(fields)
	switch {
	case f.has("source_image", "target_image"):
		return parseInswapper(f)
	case f.has("process_type", "source_file", "target_file"):
		return parseFiles(f)
	}
	return nil, invalid("input matches neither accepted schema: send process_type, source_file and target_file, or source_image and target_image (runpod-worker-inswapper)")
}

// fieldSet is a decoded input object; get decodes one field, naming it in errors.
type fieldSet map[string]json.RawMessage

func (f fieldSet) has(names ...string) bool {
	for _, n := range names {
		if _, ok := f[n]; ok {
			return true
		}
	}
	return false
}

// get decodes field name into dst (a pointer to a pointer, left nil when the field
// is absent or null).
func (f fieldSet) get(name string, dst any) error {
	raw, ok := f[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid("input.%s must be %s, not %s", name, jsonType(te.Type.Kind().String()), te.Value)
		}
		return invalid("input.%s: %v", name, err)
	}
	return nil
}

// getAll decodes several fields, stopping at the first error.
func (f fieldSet) getAll(dsts map[string]any) error {
	names := make([]string, 0, len(dsts))
	for n := range dsts {
		names = append(names, n)
	}
	slices.Sort(names) // the same error for the same request
	for _, n := range names {
		if err := f.get(n, dsts[n]); err != nil {
			return err
		}
	}
	return nil
}

// parseFiles reads the files schema:
//
//	{"process_type": "single_image" | "video" | "probe",
//	 "source_file": URL or base64, "target_file": URL or base64,
//	 "options": {"mouth_mask": bool, "use_face_enhancer": bool}}
//
// mouth_mask maps to MouthMask, use_face_enhancer to Enhancer "gfpgan_1.4".
func parseFiles(f fieldSet) (*Input, error) {
	var processType, source, target *string
	var opts *struct {
		MouthMask       *flexBool `json:"mouth_mask"`
		UseFaceEnhancer *flexBool `json:"use_face_enhancer"`
	}
	if err := f.getAll(map[string]any{"process_type": &processType, "source_file": &source, "target_file": &target}); err != nil {
		return nil, err
	}
	if raw, ok := f["options"]; ok {
		opt := fieldSet{}
		if b := bytes.TrimSpace(raw); !bytes.Equal(b, []byte("null")) && (len(b) == 0 || b[0] != '{' || json.Unmarshal(b, (*map[string]json.RawMessage)(&opt)) != nil) {
			return nil, invalid("input.options must be an object")
		}
		opts = &struct {
			MouthMask       *flexBool `json:"mouth_mask"`
			UseFaceEnhancer *flexBool `json:"use_face_enhancer"`
		}{}
		for name, dst := range map[string]**flexBool{"mouth_mask": &opts.MouthMask, "use_face_enhancer": &opts.UseFaceEnhancer} {
			if err := opt.get(name, dst); err != nil {
				return nil, invalid("input.options.%s", strings.TrimPrefix(errMessage(err), "input."))
			}
		}
	}
	j := &Input{Via: ViaFiles}
	pt := "single_image" // lenient: files without a process_type are an image swap
	if processType != nil {
		pt = strings.ToLower(strings.TrimSpace(*processType))
	}
	switch pt {
	case "single_image", "image":
		j.Kind = jobs.KindImage
	case "video":
		j.Kind = jobs.KindVideo
	case "probe":
		// A probe exercises queue, device slot, record and webhook; files are ignored.
		j.Kind = jobs.KindProbe
		return j, nil
	default:
		return nil, invalid("input.process_type %q is not one of single_image, video, probe", pt)
	}
	var err error
	if j.Source, err = parseFile("input.source_file", source); err != nil {
		return nil, err
	}
	if j.Target, err = parseFile("input.target_file", target); err != nil {
		return nil, err
	}
	if opts != nil {
		j.Options.MouthMask = opts.MouthMask != nil && bool(*opts.MouthMask)
		if opts.UseFaceEnhancer != nil && bool(*opts.UseFaceEnhancer) {
			j.Options.Enhancer = "gfpgan_1.4"
		}
	}
	return j, nil
}

func errMessage(err error) string {
	if e, ok := errcode.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// parseInswapper maps runpod-worker-inswapper's input (RPW schemas/input.py) onto
// swapd's options:
//
//	source_image, target_image (base64)                   → source, target
//	source_indexes, target_indexes ("-1" all, else "0,2") → SourceIndexes, TargetIndexes
//	face_restore                                          → Enhancer "codeformer"
//	codeformer_fidelity                                   → CodeFormerWeight
//	output_format JPEG | PNG                              → OutputFormat jpeg | png
//	face_mask_blur, face_mask_padding "t,r,b,l"           → MaskBlur, MaskPadding
//	face_selector_mode one | many | reference             → FaceSelector
//	face_selector_order                                   → FaceOrder
//	reference_face_position, reference_face_distance      → ReferenceFacePosition, ReferenceDistance
//
// Defaults differ from the worker's where swapd cannot honour them: face_restore is
// off unless sent (the worker defaults it on, but a swapd worker has CodeFormer only
// when its model is installed, and a default must not fail a job), and an absent
// face_selector_mode keeps swapd's default (the largest face). background_enhance,
// face_upsample and upscale (Real-ESRGAN) are type-checked and otherwise ignored: the
// output has the target's size. Other fields (min_face_size, face_swapper_model, …)
// are ignored.
func parseInswapper(f fieldSet) (*Input, error) {
	var (
		source, target, outputFormat, selectorMode, selectorOrder *string
		sourceIdx, targetIdx                                      *indexList
		bgEnhance, faceRestore, faceUpsample                      *flexBool
		upscale, fidelity, maskBlur, refPos, refDist              *flexNum
		maskPadding                                               *padding
	)
	if err := f.getAll(map[string]any{
		"source_image": &source, "target_image": &target,
		"source_indexes": &sourceIdx, "target_indexes": &targetIdx,
		"background_enhance": &bgEnhance, "face_restore": &faceRestore, "face_upsample": &faceUpsample,
		"upscale": &upscale, "codeformer_fidelity": &fidelity, "output_format": &outputFormat,
		"face_mask_blur": &maskBlur, "face_mask_padding": &maskPadding,
		"face_selector_mode": &selectorMode, "face_selector_order": &selectorOrder,
		"reference_face_position": &refPos, "reference_face_distance": &refDist,
	}); err != nil {
		return nil, err
	}
	j := &Input{Via: ViaInswapper, Kind: jobs.KindImage}
	var err error
	if j.Source, err = parseFile("input.source_image", source); err != nil {
		return nil, err
	}
	if j.Target, err = parseFile("input.target_image", target); err != nil {
		return nil, err
	}
	o := &j.Options
	if sourceIdx != nil {
		o.SourceIndexes = *sourceIdx
	}
	if targetIdx != nil {
		o.TargetIndexes = *targetIdx
	}
	if len(o.SourceIndexes) > 0 && len(o.TargetIndexes) > 0 && len(o.SourceIndexes) != len(o.TargetIndexes) && len(o.SourceIndexes) != 1 {
		return nil, invalid("input.source_indexes has %d entries and input.target_indexes %d; explicit lists must pair up one to one", len(o.SourceIndexes), len(o.TargetIndexes))
	}
	if faceRestore != nil && bool(*faceRestore) {
		o.Enhancer = "codeformer"
	}
	if v := fidelity; v != nil {
		if *v < 0 || *v > 1 {
			return nil, invalid("input.codeformer_fidelity %g is outside 0–1", float64(*v))
		}
		w := float64(*v)
		o.CodeFormerWeight = &w
	}
	if v := upscale; v != nil && (*v < 1 || float64(*v) != float64(int(*v))) {
		return nil, invalid("input.upscale %g must be a whole number of at least 1", float64(*v))
	}
	if outputFormat != nil {
		switch strings.ToUpper(strings.TrimSpace(*outputFormat)) {
		case "JPEG", "JPG":
			o.OutputFormat = "jpeg"
		case "PNG":
			o.OutputFormat = "png"
		default:
			return nil, invalid("input.output_format %q is not one of JPEG, PNG", *outputFormat)
		}
	}
	if v := maskBlur; v != nil {
		if *v < 0 || *v > 1 {
			return nil, invalid("input.face_mask_blur %g is outside 0–1", float64(*v))
		}
		b := float64(*v)
		o.MaskBlur = &b
	}
	if maskPadding != nil {
		o.MaskPadding = []float64(*maskPadding)
	}
	if selectorMode != nil {
		switch m := strings.ToLower(strings.TrimSpace(*selectorMode)); m {
		case "one", "many", "reference":
			o.FaceSelector = m
		default:
			return nil, invalid("input.face_selector_mode %q is not one of one, many, reference", *selectorMode)
		}
	}
	if selectorOrder != nil {
		order := strings.ToLower(strings.TrimSpace(*selectorOrder))
		if !slices.Contains(jobs.FaceOrders, order) {
			return nil, invalid("input.face_selector_order %q is not one of %s", *selectorOrder, strings.Join(jobs.FaceOrders, ", "))
		}
		o.FaceOrder = order
	}
	if v := refPos; v != nil {
		if *v < 0 || float64(*v) != float64(int(*v)) {
			return nil, invalid("input.reference_face_position %g must be a whole number of at least 0", float64(*v))
		}
		o.ReferenceFacePosition = int(*v)
	}
	if v := refDist; v != nil {
		if *v <= 0 || *v > 1 {
			return nil, invalid("input.reference_face_distance %g is outside (0, 1]", float64(*v))
		}
		d := float64(*v)
		o.ReferenceDistance = &d
	}
	if err := o.Validate(); err != nil {
		return nil, invalid("input: %s", errMessage(err))
	}
	return j, nil
}

// parseFile reads an input file: an http(s) URL, a data: URL with base64, or bare
// base64 (newlines allowed, as Python's base64.encodebytes writes them).
func parseFile(field string, v *string) (*File, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return nil, invalid("%s is required", field)
	}
	s := strings.TrimSpace(*v)
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return &File{URL: s}, nil
	case strings.HasPrefix(lower, "data:"):
		if !strings.Contains(lower[:min(len(lower), 200)], ";base64,") {
			return nil, invalid("%s is a data: URL without ;base64,", field)
		}
		return &File{Base64: s}, nil
	case strings.Contains(lower[:min(len(lower), 16)], "://"):
		return nil, invalid("%s: only http and https URLs are fetched", field)
	}
	return &File{Base64: s}, nil
}

// flexBool accepts true/false, the strings "true"/"false"/"1"/"0"/"yes"/"no", 0 and 1:
// RunPod clients built from form data send all of them.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.ToLower(strings.Trim(strings.TrimSpace(string(data)), `"`))
	switch s {
	case "true", "1", "yes", "on":
		*b = true
	case "false", "0", "no", "off", "", "null":
		*b = false
	default:
		return fmt.Errorf("%s is not true or false", data)
	}
	return nil
}

// flexNum accepts a number or a numeric string.
type flexNum float64

func (n *flexNum) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", data)
	}
	*n = flexNum(f)
	return nil
}

// indexList is a face index list: "-1" (all, automatic), "0,2", a number, or a list
// of numbers. Automatic is nil.
type indexList []int

func (l *indexList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var parts []string
	switch {
	case bytes.Equal(data, []byte("null")):
		*l = nil
		return nil
	case len(data) > 0 && data[0] == '[':
		var nums []flexNum
		if err := json.Unmarshal(data, &nums); err != nil {
			return fmt.Errorf("%s is not a list of face indexes", data)
		}
		for _, n := range nums {
			parts = append(parts, strconv.FormatFloat(float64(n), 'f', -1, 64))
		}
	default:
		parts = strings.Split(strings.Trim(string(data), `"`), ",")
	}
	var out []int
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		i, err := strconv.Atoi(p)
		if err != nil || i < -1 || i > 255 {
			return fmt.Errorf("%q is not a face index (-1 for all, else 0–255)", p)
		}
		out = append(out, i)
	}
	if len(out) == 1 && out[0] == -1 || len(out) == 0 {
		*l = nil // automatic
		return nil
	}
	for _, i := range out {
		if i == -1 {
			return fmt.Errorf("-1 (all faces) cannot be combined with other indexes in %s", data)
		}
	}
	*l = out
	return nil
}

// padding is face_mask_padding: "top,right,bottom,left" percentages (one value for
// all four, or a list of numbers, is accepted too).
type padding []float64

func (p *padding) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var vals []float64
	if len(data) > 0 && data[0] == '[' {
		var nums []flexNum
		if err := json.Unmarshal(data, &nums); err != nil {
			return fmt.Errorf("%s is not a list of numbers", data)
		}
		for _, n := range nums {
			vals = append(vals, float64(n))
		}
	} else {
		for _, s := range strings.Split(strings.Trim(string(data), `"`), ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return fmt.Errorf("%s is not \"top,right,bottom,left\" numbers", data)
			}
			vals = append(vals, f)
		}
	}
	if len(vals) == 1 {
		vals = []float64{vals[0], vals[0], vals[0], vals[0]}
	}
	if len(vals) != 4 {
		return fmt.Errorf("%s needs 4 values (top,right,bottom,left), got %d", data, len(vals))
	}
	for _, v := range vals {
		if v < 0 || v > 100 {
			return fmt.Errorf("padding %g is outside 0–100", v)
		}
	}
	*p = vals
	return nil
}
