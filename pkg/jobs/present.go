package jobs

import (
	"context"
	"time"
)

// Presigner makes time-limited GET URLs for stored objects (storage.Store does).
type Presigner interface {
	PresignGet(ctx context.Context, key string, expiry time.Duration, filename string) (string, error)
}

// Present fills in the fields a client sees but swapd does not store: the presigned
// output URL, valid for expiry. GET /v1/jobs/{id}, the job list, Server-Sent Events and
// webhook bodies all show a job through it, so they show it the same way. A URL that
// cannot be made is left out rather than failing the answer.
func Present(ctx context.Context, objects Presigner, j *Job, expiry time.Duration) *Job {
	if j.Output != nil && j.Output.Key != "" {
		if u, err := objects.PresignGet(ctx, j.Output.Key, expiry, ""); err == nil {
			j.Output.URL = u
		}
	}
	if j.Output != nil && j.Output.Analysis != nil {
		a := j.Output.Analysis
		for _, t := range a.thumbnails() {
			if u, err := objects.PresignGet(ctx, t.Key, expiry, ""); err == nil {
				t.URL = u
			}
		}
	}
	return j
}
