package jobs

import (
	"github.com/swapd/swapd/pkg/errcode"
)

// A mapped swap gives each person of the target a source of their own, where an
// ordinary swap gives every selected face the same one. The person is named in one
// of three ways:
//
//   - Identity: an identity id of the analyze job options.analysis names ("person-1");
//     its mean embedding, kept in that job's record, picks the faces
//   - Face: a face index of an image analysis (left to right), the same as the
//     identity of that face
//   - Reference: an image whose largest face picks the person, no analysis needed
//
// The API checks what needs the analysis record (it exists, is this key's, has
// succeeded, analysed the same target, has the identity); Validate checks the rest.

// Mapping is one entry of options.mappings.
type Mapping struct {
	Identity  string  `json:"identity,omitempty"`  // an identity id of options.analysis
	Face      *int    `json:"face,omitempty"`      // a face index of an image analysis
	Reference *Input  `json:"reference,omitempty"` // an image of the person (key or url)
	Source    []Input `json:"source"`              // the person's new identity: inputs (key or url) whose embeddings are averaged
}

// MaxMappings bounds options.mappings: one entry per person of the target.
const MaxMappings = 16

// MaxTrackHold is the most frames options.track_hold may ask for: each frame of
// hold can keep one more video frame in the worker's memory (faceswap.MaxTrackHold,
// which internal/jobpipe's tests check this against).
const MaxTrackHold = 30

// Unmapped values: what happens to faces no mapping picks.
const (
	UnmappedKeep = "keep" // left unchanged (the default)
	UnmappedBlur = "blur" // blurred beyond recognition
)

// validateMappings checks the analyze and mapping options that need nothing but the
// options themselves.
func (o Options) validateMappings() error {
	if o.AnalyzeStride < 0 || o.AnalyzeStride > 30 {
		return bad("options.analyze_stride %d is outside 1–30", o.AnalyzeStride)
	}
	if o.TrackHold != nil && (*o.TrackHold < 0 || *o.TrackHold > MaxTrackHold) {
		return bad("options.track_hold %d is outside 0–%d frames", *o.TrackHold, MaxTrackHold)
	}
	if o.Unmapped != "" && o.Unmapped != UnmappedKeep && o.Unmapped != UnmappedBlur {
		return bad("options.unmapped %q is not %q or %q", o.Unmapped, UnmappedKeep, UnmappedBlur)
	}
	if len(o.Mappings) == 0 {
		switch {
		case o.Analysis != "":
			return bad("options.analysis is used by options.mappings, which is empty")
		case o.Unmapped != "":
			return bad("options.unmapped applies to mapped swaps; options.mappings is empty")
		}
		return nil
	}
	if len(o.Mappings) > MaxMappings {
		return bad("%d options.mappings; the limit is %d", len(o.Mappings), MaxMappings)
	}
	// Mappings choose the faces themselves.
	if o.FaceSelector != "" || len(o.TargetIndexes) > 0 || len(o.SourceIndexes) > 0 || o.ReferenceFacePosition != 0 {
		return bad("options.mappings choose the faces themselves: leave out face_selector, target_indexes, source_indexes and reference_face_position")
	}
	identities, faces := map[string]bool{}, map[int]bool{}
	for i, m := range o.Mappings {
		named := 0
		if m.Identity != "" {
			named++
		}
		if m.Face != nil {
			named++
		}
		if m.Reference != nil {
			named++
		}
		if named != 1 {
			return bad("options.mappings[%d]: give exactly one of identity, face, reference", i)
		}
		if len(m.Source) == 0 {
			return errcode.New(errcode.MappingWithoutSource, "options.mappings[%d] has no source: give the person's new identity as a list of inputs", i)
		}
		if (m.Identity != "" || m.Face != nil) && o.Analysis == "" {
			return bad("options.mappings[%d] names an analysed person: options.analysis must name the analyze job", i)
		}
		if m.Face != nil && (*m.Face < 0 || *m.Face > 255) {
			return bad("options.mappings[%d]: face %d is outside 0–255", i, *m.Face)
		}
		if m.Identity != "" {
			if identities[m.Identity] {
				return bad("options.mappings names identity %q twice; each person gets one source", m.Identity)
			}
			identities[m.Identity] = true
		}
		if m.Face != nil {
			if faces[*m.Face] {
				return bad("options.mappings names face %d twice; each person gets one source", *m.Face)
			}
			faces[*m.Face] = true
		}
	}
	return nil
}

// SameInput reports whether two inputs are the same file as far as the records can
// tell: the same upload key, the same URL, or the same content (the digest the API
// records for what it stores from a request). An upload and a base64 copy of it are
// not recognised as the same.
func SameInput(a, b Input) bool {
	switch {
	case a.SHA256 != "" && b.SHA256 != "":
		return a.SHA256 == b.SHA256
	case a.Key != "" && b.Key != "":
		return a.Key == b.Key
	case a.URL != "" && b.URL != "":
		return a.URL == b.URL
	}
	return false
}
