package runpod

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
)

// RunPod job statuses.
const (
	InQueue    = "IN_QUEUE"
	InProgress = "IN_PROGRESS"
	Completed  = "COMPLETED"
	Failed     = "FAILED"
	Cancelled  = "CANCELLED"
	TimedOut   = "TIMED_OUT"
)

// Status maps a swapd job onto RunPod's vocabulary: queued IN_QUEUE, running
// IN_PROGRESS, succeeded COMPLETED, canceled CANCELLED, failed FAILED, or TIMED_OUT
// when the failure was the execution timeout (see TimedOut).
func Status(j *jobs.Job) string {
	switch j.Status {
	case jobs.Queued:
		return InQueue
	case jobs.Running:
		return InProgress
	case jobs.Succeeded:
		return Completed
	case jobs.Canceled:
		return Cancelled
	case jobs.Failed:
		if IsTimedOut(j) {
			return TimedOut
		}
		return Failed
	}
	return strings.ToUpper(string(j.Status))
}

// Terminal reports whether a RunPod status is final (as runpod-python decides).
func Terminal(status string) bool {
	return status == Completed || status == Failed || status == Cancelled || status == TimedOut
}

// ExecutionTimeout is the per-attempt limit that applied to j.
func ExecutionTimeout(j *jobs.Job) time.Duration {
	if j.Timeout > 0 {
		return j.Timeout
	}
	return DefaultExecutionTimeout
}

// IsTimedOut reports whether a failed job failed on its execution timeout, which the
// worker records with the code TIMED_OUT.
func IsTimedOut(j *jobs.Job) bool {
	return j.Status == jobs.Failed && j.Error != nil && j.Error.Code == errcode.TimedOut
}

// Result is a job as RunPod's /status, /runsync and webhooks show it.
type Result struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	DelayTime     *int64 `json:"delayTime,omitempty"`     // ms from submission to the (last) start
	ExecutionTime *int64 `json:"executionTime,omitempty"` // ms from the (last) start to the end
	Output        any    `json:"output,omitempty"`
	Error         string `json:"error,omitempty"`
}

// Objects is what rendering needs from object storage (a *storage.Store).
type Objects interface {
	Get(ctx context.Context, key string) (io.ReadCloser, storage.Object, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration, filename string) (string, error)
}

// MaxInlineOutput caps an output returned as base64: larger ones, and any that cannot
// be read, are returned as a presigned URL instead (RunPod itself advises returning
// links for large outputs; its /runsync answers are capped at 20 MB).
const MaxInlineOutput = 20 << 20

// Render shows j as a RunPod status. A succeeded job's output depends on the schema it
// came in (Via):
//
//	files, image:  the result image as a base64 string
//	files, video:  a presigned URL string of the result video
//	files, probe:  {"probe": "ok"}
//	inswapper:     {"image": <base64>}, or {"image_url": <presigned URL>} over MaxInlineOutput
//	native (/v1):  swapd's output object with a presigned "url"
//
// A failed job's error is "<CODE>: <message>" at the top level, as runpod-python
// reports a handler's {"error": …}. objs may be nil; outputs then have no bytes or URL.
func Render(ctx context.Context, objs Objects, j *jobs.Job, urlExpiry time.Duration) *Result {
	r := &Result{ID: j.ID, Status: Status(j)}
	if j.StartedAt != nil {
		d := max(j.StartedAt.Sub(j.CreatedAt).Milliseconds(), 0)
		r.DelayTime = &d
		if j.FinishedAt != nil {
			e := max(j.FinishedAt.Sub(*j.StartedAt).Milliseconds(), 0)
			r.ExecutionTime = &e
		}
	}
	switch {
	case j.Status == jobs.Succeeded:
		r.Output = output(ctx, objs, j, urlExpiry)
	case r.Status == TimedOut:
		r.Error = fmt.Sprintf("%s: the job ran past its execution timeout of %d ms", TimedOut, ExecutionTimeout(j).Milliseconds())
	case j.Status == jobs.Failed && j.Error != nil:
		r.Error = j.Error.Code + ": " + j.Error.Message
	case j.Status == jobs.Failed:
		r.Error = errcode.Internal + ": the job failed"
	}
	return r
}

func output(ctx context.Context, objs Objects, j *jobs.Job, urlExpiry time.Duration) any {
	if j.Kind == jobs.KindProbe {
		if j.Via == ViaFiles || j.Output == nil {
			return map[string]string{"probe": "ok"}
		}
	}
	if j.Output == nil || j.Output.Key == "" {
		return nil
	}
	switch j.Via {
	case ViaFiles:
		if j.Kind == jobs.KindVideo {
			return presign(ctx, objs, j.Output.Key, urlExpiry)
		}
		if b64, ok := inline(ctx, objs, j.Output); ok {
			return b64
		}
		return presign(ctx, objs, j.Output.Key, urlExpiry)
	case ViaInswapper:
		if b64, ok := inline(ctx, objs, j.Output); ok {
			return map[string]string{"image": b64}
		}
		return map[string]string{"image_url": presign(ctx, objs, j.Output.Key, urlExpiry)}
	}
	out := *j.Output
	out.URL = presign(ctx, objs, out.Key, urlExpiry)
	return &out
}

// inline reads the output object as base64 if it is at most MaxInlineOutput bytes.
func inline(ctx context.Context, objs Objects, out *jobs.Output) (string, bool) {
	if objs == nil || out.Size > MaxInlineOutput {
		return "", false
	}
	rc, obj, err := objs.Get(ctx, out.Key)
	if err != nil {
		return "", false
	}
	defer rc.Close()
	if obj.Size > MaxInlineOutput {
		return "", false
	}
	b, err := io.ReadAll(io.LimitReader(rc, MaxInlineOutput+1))
	if err != nil || len(b) > MaxInlineOutput {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

func presign(ctx context.Context, objs Objects, key string, expiry time.Duration) string {
	if objs == nil {
		return ""
	}
	u, err := objs.PresignGet(ctx, key, expiry, "")
	if err != nil {
		return ""
	}
	return u
}

// StreamResult is the body of GET /stream/{id}.
type StreamResult struct {
	Status string        `json:"status"`
	Stream []StreamChunk `json:"stream"`
}

// StreamChunk is one streamed output. swapd's handlers yield nothing but progress,
// so a chunk is {"output": {"progress": {"done": n, "total": m}}}.
type StreamChunk struct {
	Output StreamOutput `json:"output"`
}

// StreamOutput is a progress report.
type StreamOutput struct {
	Progress jobs.Progress `json:"progress"`
}

// Stream shows the job's status and, when fresh is true (the progress was not handed
// out before, see jobs.Store.TakeStream), its progress as the one chunk; otherwise the
// stream is empty. As on RunPod each chunk is handed out once, so a client that polls
// until the status is final and the stream empty (runpod-python's Job.stream) ends.
func Stream(j *jobs.Job, fresh bool) *StreamResult {
	s := &StreamResult{Status: Status(j), Stream: []StreamChunk{}}
	if fresh && j.Progress.Total > 0 {
		s.Stream = append(s.Stream, StreamChunk{Output: StreamOutput{Progress: j.Progress}})
	}
	return s
}

// CancelResult is the body of POST /cancel/{id}: the job's id and status with its
// times, which RunPod's cancel answer always carries.
type CancelResult struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	DelayTime     int64  `json:"delayTime"`     // ms from submission to the (last) start, or to the end of a job that never started
	ExecutionTime int64  `json:"executionTime"` // ms from the (last) start to the end (or to now while running); 0 if it never started
}

// CancelAnswer shows j as the answer to /cancel.
func CancelAnswer(j *jobs.Job, now time.Time) *CancelResult {
	c := &CancelResult{ID: j.ID, Status: Status(j)}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	if j.StartedAt != nil {
		c.DelayTime = max(j.StartedAt.Sub(j.CreatedAt).Milliseconds(), 0)
		c.ExecutionTime = max(end.Sub(*j.StartedAt).Milliseconds(), 0)
	} else {
		c.DelayTime = max(end.Sub(j.CreatedAt).Milliseconds(), 0)
	}
	return c
}

// Health is the body of GET /health.
type Health struct {
	Jobs    HealthJobs    `json:"jobs"`
	Workers HealthWorkers `json:"workers"`
}

// HealthJobs counts jobs by state.
type HealthJobs struct {
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	InProgress int `json:"inProgress"`
	InQueue    int `json:"inQueue"`
	Retried    int `json:"retried"`
}

// HealthWorkers counts worker slots, with every field RunPod's /health has. swapd's
// workers are up once they report, so initializing, throttled and unhealthy are 0 and
// ready counts every slot (idle + running).
type HealthWorkers struct {
	Idle         int `json:"idle"`
	Initializing int `json:"initializing"`
	Ready        int `json:"ready"`
	Running      int `json:"running"`
	Throttled    int `json:"throttled"`
	Unhealthy    int `json:"unhealthy"`
}
