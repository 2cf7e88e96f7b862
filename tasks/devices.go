package tasks

import (
	"context"
	"fmt"

	"github.com/swapd/swapd/pkg/inference"
)

// DevicePool pairs every device with the pipeline whose sessions live on it, and hands
// them out under the device's slot semaphore: a worker with two devices runs two jobs'
// inference at once, one per device, and never more than a device's slots.
type DevicePool struct {
	Pool      *inference.Pool
	Pipelines map[*inference.Device]Pipeline
}

// Acquire implements Devices.
func (d *DevicePool) Acquire(ctx context.Context) (Pipeline, func(), error) {
	dev, release, err := d.Pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, ok := d.Pipelines[dev]
	if !ok {
		release()
		return nil, nil, fmt.Errorf("device %s has no pipeline", dev)
	}
	return p, release, nil
}
