package inference

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Pool schedules inference work onto a set of devices. Acquire hands out one slot
// on one device; the device semaphores are the only source of truth, so a device
// can never run more than Slots calls at once, whether slots are taken through the
// Pool or directly on the Device.
type Pool struct {
	devices []*Device
	next    atomic.Uint64 // round-robin start, so idle devices share the load
	freed   *broadcast
}

// NewPool returns a pool over devs. A device should belong to at most one pool.
func NewPool(devs []*Device) (*Pool, error) {
	if len(devs) == 0 {
		return nil, errors.New("inference: pool needs at least one device")
	}
	p := &Pool{devices: append([]*Device(nil), devs...), freed: newBroadcast()}
	for _, d := range p.devices {
		d.notify = p.freed
	}
	return p, nil
}

// Devices returns the pool's devices.
func (p *Pool) Devices() []*Device { return append([]*Device(nil), p.devices...) }

// Acquire returns a device with a slot reserved for the caller and a release
// function (safe to call more than once). It first tries every device without
// blocking, starting at a rotating offset so work spreads across devices; if all
// are busy it waits until any slot is released or ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Device, func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		// Take the wake-up channel before trying, so a release that happens between
		// the failed tries and the wait below is not missed.
		wake := p.freed.wait()
		if d := p.tryAcquire(); d != nil {
			var once sync.Once
			return d, func() { once.Do(d.Release) }, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-wake:
		}
	}
}

// TryAcquire is Acquire without waiting; ok is false when every slot is busy.
func (p *Pool) TryAcquire() (d *Device, release func(), ok bool) {
	if d = p.tryAcquire(); d == nil {
		return nil, nil, false
	}
	var once sync.Once
	return d, func() { once.Do(d.Release) }, true
}

func (p *Pool) tryAcquire() *Device {
	n := uint64(len(p.devices))
	start := p.next.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		d := p.devices[(start+i)%n]
		if d.TryAcquire() {
			return d
		}
	}
	return nil
}

// broadcast wakes every waiter when signalled: each signal closes the current
// channel and installs a fresh one.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) signal() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
