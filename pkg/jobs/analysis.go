package jobs

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// An analyze job (KindAnalyze) changes nothing: it reports who is in its target so a
// later swap can give each person a source of their own (options.mappings). Its
// result is output.analysis; the thumbnails are JPEG objects under the job's prefix,
// so they are deleted and expire with the job like any output, and clients get them
// as presigned URLs (Present).

// Analysis is an analyze job's result.
type Analysis struct {
	Media string `json:"media"` // what was analysed: image or video
	// Faces are an image's faces, left to right (their index is what
	// options.target_indexes and a mapping's face count). Empty for a video.
	Faces []AnalyzedFace `json:"faces,omitempty"`
	// Identities are the people found: in an image, one per face; in a video, the
	// face tracks clustered by embedding, ordered by first appearance.
	Identities []Identity `json:"identities"`

	Frames         int `json:"frames,omitempty"`          // video: frames read
	FramesAnalysed int `json:"frames_analysed,omitempty"` // video: frames detected on (every stride-th)
	Stride         int `json:"stride,omitempty"`          // video: options.analyze_stride as applied
}

// AnalyzedFace is one face of an analysed image.
type AnalyzedFace struct {
	Index     int           `json:"index"`     // left to right, 0-based
	Box       [4]float64    `json:"box"`       // x1, y1, x2, y2 in pixels
	Landmarks [5][2]float64 `json:"landmarks"` // eyes (image-left first), nose, mouth corners; x, y in pixels
	Score     float64       `json:"score"`     // detector confidence, 0–1
	Identity  string        `json:"identity"`  // the id of its identity in identities
	Thumbnail Thumbnail     `json:"thumbnail"`
}

// Identity is one person of an analysis.
type Identity struct {
	ID         string     `json:"id"`             // "person-1", "person-2" …: stable within the analysis
	Face       *int       `json:"face,omitempty"` // image: the index of its face
	FirstFrame int        `json:"first_frame"`    // video: the first frame it was seen in (0 for an image)
	LastFrame  int        `json:"last_frame"`     // video: the last frame it was seen in
	Frames     int        `json:"frames"`         // analysed frames it was seen in (1 for an image)
	Tracks     int        `json:"tracks"`         // face tracks joined into it (1 for an image)
	BestFrame  int        `json:"best_frame"`     // the frame of its best face (score × size)
	Box        [4]float64 `json:"box"`            // its best face's box in that frame
	Score      float64    `json:"score"`          // its best face's detector score
	Thumbnail  Thumbnail  `json:"thumbnail"`      // a crop around its best face
	// Embedding is its mean embedding (base64 of little-endian float32s), only in
	// answers to GET /v1/jobs/{id}?include=embeddings.
	Embedding string `json:"embedding,omitempty"`
}

// Thumbnail is a small JPEG crop stored with the job. URL is a presigned GET, filled
// in per request like the output's.
type Thumbnail struct {
	Key    string `json:"key"`
	URL    string `json:"url,omitempty"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// IdentityID is the id of the i-th identity (0-based) of an analysis.
func IdentityID(i int) string { return "person-" + strconv.Itoa(i+1) }

// ThumbnailKey is where a thumbnail of job id is stored: name is "face-3" or
// "person-2". Under the output's prefix, so it goes with the output (a canceled
// attempt's) and with the job.
func ThumbnailKey(id, name string) string { return OutputPrefix(id) + "thumb-" + name + ".jpg" }

// AnalysisKey is where an analyze job stores its result as JSON (its output object:
// GET /v1/jobs/{id}/output redirects to it).
func AnalysisKey(id string) string { return OutputPrefix(id) + "json" }

// EncodeEmbedding writes an embedding as base64 of little-endian float32s.
func EncodeEmbedding(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeEmbedding reads what EncodeEmbedding wrote.
func DecodeEmbedding(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("embedding is not base64 of float32s (%d bytes, %v)", len(b), err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// IdentityOf returns the identity a mapping names in a: by id, or, for an image
// analysis, by face index. ok is false when a has no such identity.
func (a *Analysis) IdentityOf(m Mapping) (Identity, bool) {
	if a == nil {
		return Identity{}, false
	}
	for _, id := range a.Identities {
		switch {
		case m.Identity != "" && id.ID == m.Identity:
			return id, true
		case m.Face != nil && id.Face != nil && *id.Face == *m.Face:
			return id, true
		}
	}
	return Identity{}, false
}

// thumbnails are the analysis's thumbnails, to fill in their URLs.
func (a *Analysis) thumbnails() []*Thumbnail {
	var out []*Thumbnail
	for i := range a.Faces {
		if a.Faces[i].Thumbnail.Key != "" {
			out = append(out, &a.Faces[i].Thumbnail)
		}
	}
	for i := range a.Identities {
		if a.Identities[i].Thumbnail.Key != "" {
			out = append(out, &a.Identities[i].Thumbnail)
		}
	}
	return out
}

// WithEmbeddings fills in each identity's embedding from the record's (for
// ?include=embeddings).
func (o *Output) WithEmbeddings() {
	if o == nil || o.Analysis == nil {
		return
	}
	for i := range o.Analysis.Identities {
		o.Analysis.Identities[i].Embedding = o.Embeddings[o.Analysis.Identities[i].ID]
	}
}
