// Package jobs holds swapd's job records: the system of record for every swap.
//
// asynq is only the transport. It deletes finished tasks, sends a cancelled running task
// to retry, and has its own state names; clients need a stable vocabulary and a record
// that outlives the task. So every job is a Redis hash owned by this package, and every
// state change is a compare-and-set done in one Lua script, which keeps at-least-once
// delivery safe: a re-delivered task sees a terminal job and does nothing.
package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// Status is a job's state. The vocabulary is part of the public API.
type Status string

const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Canceled  Status = "canceled"
)

// Terminal reports whether no further transition can happen.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed || s == Canceled }

// Input is one source or target: an object key (from /v1/uploads or a multipart part
// the API stored) or a URL the worker fetches. Base64 inputs are stored by the API and
// become keys, so a job record never carries image bytes.
type Input struct {
	Key         string `json:"key,omitempty"`
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	// SHA256 is the hex digest of the bytes the API stored (base64 and multipart
	// inputs), so a swap can tell that its target is the one an analysis looked at
	// (SameContent) although each job stores its own copy.
	SHA256 string `json:"sha256,omitempty"`
}

// Progress counts units of work: pipeline steps for an image, frames for a video.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Output describes the result object. URL is filled in by the API, per request, as a
// presigned GET; it is never stored.
type Output struct {
	Key         string `json:"key"`
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Faces       int    `json:"faces"`             // target faces swapped (summed over frames for a video)
	Frames      int    `json:"frames,omitempty"`  // video frames written
	NoFace      bool   `json:"no_face,omitempty"` // a video in which no frame had a face: returned unchanged

	// FramesExpected is the frame count the video's header announced (nb_frames, or
	// duration × fps); Truncated is set when Frames fell well short of it: the file was
	// cut off (a partial upload or download) and only its first part was swapped.
	FramesExpected int  `json:"frames_expected,omitempty"`
	Truncated      bool `json:"truncated,omitempty"`

	// The identity similarity report: the cosine between the source identity and
	// the recognizer's embedding of each swapped face (1 is the same identity).
	// Similarity is per face of an image, in the order the faces were swapped;
	// VideoSimilarity summarises a video's frames (each frame counts its lowest
	// face), and FaceFramesShare is the share of frames in which a selected face
	// was found. LowSimilarity is set when options.min_similarity is given and a
	// face (an image) or the p10 (a video) is below it.
	Similarity      []float64        `json:"similarity,omitempty"`
	VideoSimilarity *SimilarityStats `json:"video_similarity,omitempty"`
	FaceFramesShare *float64         `json:"face_frames_share,omitempty"`
	LowSimilarity   bool             `json:"low_similarity,omitempty"`

	// Analysis is an analyze job's result (analysis.go): the faces of an image, the
	// identities of an image or a video. Embeddings are the identities' mean
	// embeddings by identity id (EncodeEmbedding): kept in the record, in a field of
	// their own, for the swaps that map them, and never in any JSON a client gets
	// unless it asks (GET /v1/jobs/{id}?include=embeddings).
	Analysis   *Analysis         `json:"analysis,omitempty"`
	Embeddings map[string]string `json:"-"`
}

// SimilarityStats summarises per-frame identity similarities of a video: the
// lowest, the mean and the 10th percentile (nearest rank).
type SimilarityStats struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P10  float64 `json:"p10"`
}

// QualityReport carries a swap's similarity report from the pipeline to the
// task that writes the output (the Pipeline interface returns only the frame
// and counts): the task puts one in the context with WithQualityReport, the
// pipeline fills it, and Apply copies it into the output.
type QualityReport struct {
	Similarity      []float64
	VideoSimilarity *SimilarityStats
	FaceFramesShare *float64
	LowSimilarity   bool
}

type qualityKey struct{}

// WithQualityReport returns ctx carrying a new, empty report, and the report.
func WithQualityReport(ctx context.Context) (context.Context, *QualityReport) {
	q := &QualityReport{}
	return context.WithValue(ctx, qualityKey{}, q), q
}

// QualityReportFrom returns the report ctx carries, or nil.
func QualityReportFrom(ctx context.Context) *QualityReport {
	q, _ := ctx.Value(qualityKey{}).(*QualityReport)
	return q
}

// Apply copies the report into o; a nil report or output is left alone.
func (q *QualityReport) Apply(o *Output) {
	if q == nil || o == nil {
		return
	}
	o.Similarity, o.VideoSimilarity, o.FaceFramesShare, o.LowSimilarity = q.Similarity, q.VideoSimilarity, q.FaceFramesShare, q.LowSimilarity
}

// Webhook is where and how the job's terminal event is delivered.
type Webhook struct {
	URL    string `json:"url"`
	Status string `json:"status,omitempty"` // pending, delivered, failed
}

// Kind says what a job does.
type Kind string

const (
	KindImage Kind = "image" // swap faces in one image
	KindVideo Kind = "video" // swap faces in every frame of a video
	KindProbe Kind = "probe" // travel the whole path without inference: a synthetic health check
	// KindAnalyze finds the faces of an image or the people of a video (analysis.go)
	// without changing it; swaps then map its identities to sources (options.mappings).
	KindAnalyze Kind = "analyze"
)

// Job is a job record as clients see it.
type Job struct {
	ID         string             `json:"id"`
	Kind       Kind               `json:"kind"`
	Owner      string             `json:"-"` // the API key\'s id: a key sees only its own jobs
	Status     Status             `json:"status"`
	Progress   Progress           `json:"progress"`
	CreatedAt  time.Time          `json:"created_at"`
	StartedAt  *time.Time         `json:"started_at,omitempty"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
	Attempts   int                `json:"attempts"`
	Sources    []Input            `json:"sources"`
	Target     Input              `json:"target"`
	Reference  *Input             `json:"reference,omitempty"` // reference face for face_selector=reference
	Options    Options            `json:"options"`
	Webhook    *Webhook           `json:"webhook,omitempty"`
	Output     *Output            `json:"output,omitempty"`
	Error      *errcode.Error     `json:"error,omitempty"`
	Stages     map[string]float64 `json:"stage_seconds,omitempty"` // worker's per-stage timings

	// Set by the RunPod-compatible API (pkg/runpod) and kept out of swapd's own JSON.
	// Zero values mean a native job with the service defaults.
	Via         string        `json:"-"` // where the job came from: "" (native /v1) or "runpod:<input schema>"
	Timeout     time.Duration `json:"-"` // execution limit of one attempt; 0 = tasks.SwapTimeout
	TTL         time.Duration `json:"-"` // how long the record is kept once terminal; 0 = the store's default
	LowPriority bool          `json:"-"` // RunPod policy.lowPriority, recorded only
	Retries     int           `json:"-"` // times a client retried the failed job (Store.Retry)
	Batch       string        `json:"-"` // the batch the job is an item of, or ""
	Backlog     bool          `json:"-"` // created while its owner had Store.FairShare jobs in flight
	// Queue is the asynq queue of the job's task when it needs a worker profile
	// (profiles.go); "" is the shared queue every worker serves (its backlog
	// queue when Backlog).
	Queue string `json:"-"`
}

// MarshalJSON writes the job as clients see it: a job without sources (a probe) has
// "sources": [], not null, as the API's schema says.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job // without this method
	if j.Sources == nil {
		j.Sources = []Input{}
	}
	return json.Marshal(plain(j))
}

// Inputs returns every input of the job: sources, target, reference, and the
// references and sources of its mappings.
func (j *Job) Inputs() []Input {
	in := append(append([]Input{}, j.Sources...), j.Target)
	if j.Reference != nil {
		in = append(in, *j.Reference)
	}
	for _, m := range j.Options.Mappings {
		if m.Reference != nil {
			in = append(in, *m.Reference)
		}
		in = append(in, m.Source...)
	}
	return in
}
