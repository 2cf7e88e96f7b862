package workercmd

import (
	"context"
	"fmt"
	"sync"

	"github.com/swapd/swapd/internal/jobpipe"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/tasks"
)

// devicePool pairs every device with the pipeline whose sessions live on it, and hands
// them out under the device's slot semaphore: a worker with two devices runs two jobs'
// inference at once, one per device, and never more than a device's slots. The
// translation between a job and the pipeline is jobpipe's.
type devicePool struct {
	pool      *inference.Pool
	pipelines map[*inference.Device]*faceswap.Pipeline
	metrics   *metrics.Metrics
}

// Acquire implements tasks.Devices. The release function may be called more than once.
func (d *devicePool) Acquire(ctx context.Context) (tasks.Pipeline, func(), error) {
	dev, release, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, ok := d.pipelines[dev]
	if !ok {
		release()
		return nil, nil, fmt.Errorf("device %s has no pipeline", dev)
	}
	d.metrics.SlotAcquired(dev.Name)
	var once sync.Once
	return jobpipe.New(p), func() {
		once.Do(func() {
			release()
			d.metrics.SlotReleased(dev.Name)
		})
	}, nil
}
