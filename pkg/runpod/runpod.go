// Package runpod is swapd's side of RunPod's serverless job protocol: the request body
// (input, webhook, policy, s3Config), the two input schemas swapd accepts, the mapping
// of swapd's job states to RunPod's, and the JSON a RunPod client reads back from
// /status, /runsync, /stream and the webhook.
//
// It knows jobs and object storage but no HTTP handler: pkg/api serves the routes under
// /v2/{endpoint}/, and tasks renders webhook bodies of RunPod jobs with Render, so the
// webhook carries exactly what /status shows. It must not import pkg/api or tasks.
//
// Facts about the protocol are from RunPod's docs and runpod-python (see
// docs/queue-api-facts.md §3) and the runpod-worker-inswapper schema
// (docs/face-pipeline-facts.md §11).
package runpod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// Input schemas, recorded on the job as jobs.Job.Via.
const (
	// ViaFiles is the {"process_type", "source_file", "target_file", "options"} schema.
	ViaFiles = "runpod:files"
	// ViaInswapper is runpod-worker-inswapper's {"source_image", "target_image", …}.
	ViaInswapper = "runpod:inswapper"
)

// IsRunPod reports whether a job's Via says it came through the RunPod API, so its
// webhook body is a RunPod status rather than swapd's event envelope.
func IsRunPod(via string) bool { return strings.HasPrefix(via, "runpod:") }

// Request size limits, as RunPod documents them (bytes of request body).
const (
	MaxRunBody     = 10 << 20 // POST /run
	MaxRunSyncBody = 20 << 20 // POST /runsync
)

// Policy limits and defaults (RunPod: executionTimeout 5 s–7 d, default 600 s; ttl
// 10 s–7 d). The default execution timeout equals tasks.SwapTimeout.
const (
	DefaultExecutionTimeout = 10 * time.Minute
	MinExecutionTimeout     = 5 * time.Second
	MaxExecutionTimeout     = 7 * 24 * time.Hour
	MinTTL                  = 10 * time.Second
	MaxTTL                  = 7 * 24 * time.Hour

	// RunTTL and RunSyncTTL are how long a finished job's record (and so its result)
	// is kept when the request sets no policy.ttl: RunPod keeps /run results 30 minutes
	// and /runsync results one minute.
	RunTTL     = 30 * time.Minute
	RunSyncTTL = time.Minute
)

// Request is the body of POST /run and /runsync.
type Request struct {
	// Input is handed to the schema parser (ParseInput). Required.
	Input json.RawMessage `json:"input"`
	// Webhook receives the job's /status body once it ends. It is checked like a
	// native webhook URL (no private addresses) by the API.
	Webhook string `json:"webhook,omitempty"`
	// WebhookV2 is the field RunPod's newer clients (runpod-sdk) send; it is honoured
	// like Webhook, which wins when both are set (see Hook).
	WebhookV2 string  `json:"webhookV2,omitempty"`
	Policy    *Policy `json:"policy,omitempty"`
	// S3Config is accepted so RunPod clients that send it are not refused, and checked
	// to be a JSON object, but it is not used and not stored: on RunPod it is handed to
	// the worker's own code, while swapd always writes outputs to its own configured
	// bucket and returns them inline (base64) or as presigned URLs of that bucket.
	S3Config json.RawMessage `json:"s3Config,omitempty"`
}

// Policy is RunPod's per-request execution policy. Times are milliseconds.
type Policy struct {
	// ExecutionTimeout bounds one attempt of the job (asynq's task timeout).
	ExecutionTimeout *int64 `json:"executionTimeout,omitempty"`
	// TTL is how long the job's record is kept after it ends. (On RunPod it is the
	// job's whole lifespan, queue time included, and a job still running when it runs
	// out is deleted; swapd never deletes a live job, so here it counts from the end.)
	TTL *int64 `json:"ttl,omitempty"`
	// LowPriority on RunPod keeps the job from triggering worker scale-up. swapd has no
	// autoscaler and asynq no per-task priority, so it is only recorded on the job.
	LowPriority bool `json:"lowPriority,omitempty"`
}

func invalid(format string, args ...any) error {
	return errcode.New(errcode.InvalidRequest, format, args...)
}

// DecodeRequest parses a /run or /runsync body. Unknown top-level fields are ignored,
// as RunPod ignores them; a missing input, a malformed policy or a non-object
// s3Config are INVALID_REQUEST errors.
func DecodeRequest(body []byte) (*Request, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid("the body is not a valid RunPod request: %s", jsonError(err))
	}
	in := bytes.TrimSpace(req.Input)
	if len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return nil, invalid("input is required")
	}
	if s3 := bytes.TrimSpace(req.S3Config); len(s3) > 0 && !bytes.Equal(s3, []byte("null")) && s3[0] != '{' {
		return nil, invalid("s3Config must be an object")
	}
	if _, _, err := req.Policy.Timeout(); err != nil {
		return nil, err
	}
	if _, _, err := req.Policy.RecordTTL(); err != nil {
		return nil, err
	}
	return &req, nil
}

// Hook is the webhook URL the request asks for: webhook, else webhookV2, else "".
func (r *Request) Hook() string {
	if h := strings.TrimSpace(r.Webhook); h != "" {
		return h
	}
	return strings.TrimSpace(r.WebhookV2)
}

// Timeout returns the execution timeout the policy asks for, if any.
func (p *Policy) Timeout() (time.Duration, bool, error) {
	if p == nil || p.ExecutionTimeout == nil {
		return 0, false, nil
	}
	d := time.Duration(*p.ExecutionTimeout) * time.Millisecond
	if d < MinExecutionTimeout || d > MaxExecutionTimeout {
		return 0, false, invalid("policy.executionTimeout %d ms is outside %d–%d ms", *p.ExecutionTimeout, MinExecutionTimeout.Milliseconds(), MaxExecutionTimeout.Milliseconds())
	}
	return d, true, nil
}

// RecordTTL returns the ttl the policy asks for, if any.
func (p *Policy) RecordTTL() (time.Duration, bool, error) {
	if p == nil || p.TTL == nil {
		return 0, false, nil
	}
	d := time.Duration(*p.TTL) * time.Millisecond
	if d < MinTTL || d > MaxTTL {
		return 0, false, invalid("policy.ttl %d ms is outside %d–%d ms", *p.TTL, MinTTL.Milliseconds(), MaxTTL.Milliseconds())
	}
	return d, true, nil
}

// jsonError words a decoding error for a client, naming the field when it can.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON"
	}
	return err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "float64", "float32":
		return "a number"
	case "struct", "map", "ptr":
		return "an object"
	case "slice":
		return "a list"
	}
	return kind
}
