package tasks

import (
	"context"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

func (h *SwapHandler) runVideo(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	return nil, nil, errcode.New(errcode.UnsupportedMedia, "video jobs are not supported by this worker yet")
}
