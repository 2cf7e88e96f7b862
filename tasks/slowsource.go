package tasks

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// MinRate is the slowest a URL source may send: at least Bytes in every Window. A
// source below it is cut off with FETCH_FAILED, so a server that trickles a byte every
// few seconds cannot hold one of the worker's task slots for the whole fetch timeout
// while other tenants' jobs wait.
type MinRate struct {
	Bytes  int64
	Window time.Duration
}

// DefaultMinRate is 16 KiB per 30 s (about 0.5 KiB/s): far below any real file server,
// far above a deliberate trickle.
var DefaultMinRate = MinRate{Bytes: 16 << 10, Window: 30 * time.Second}

// rateGuard wraps a source's body; a watchdog closes it when a window passes with
// fewer than min.Bytes read, which makes the pending Read fail, and Read then reports
// the slow source instead of the close.
type rateGuard struct {
	body io.ReadCloser
	min  MinRate
	url  string
	n    atomic.Int64
	slow atomic.Bool
	stop chan struct{}
	once sync.Once
}

func guardRate(body io.ReadCloser, min MinRate, url string) io.ReadCloser {
	if min.Bytes <= 0 || min.Window <= 0 {
		return body
	}
	g := &rateGuard{body: body, min: min, url: url, stop: make(chan struct{})}
	go g.watch()
	return g
}

func (g *rateGuard) watch() {
	t := time.NewTicker(g.min.Window)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			if g.n.Swap(0) < g.min.Bytes {
				g.slow.Store(true)
				g.body.Close()
				return
			}
		}
	}
}

func (g *rateGuard) Read(p []byte) (int, error) {
	n, err := g.body.Read(p)
	g.n.Add(int64(n))
	if err != nil && err != io.EOF && g.slow.Load() {
		return n, errcode.New(errcode.FetchFailed, "input url %s sent less than %d bytes in %s; the source is too slow", g.url, g.min.Bytes, g.min.Window)
	}
	return n, err
}

func (g *rateGuard) Close() error {
	g.once.Do(func() { close(g.stop) })
	return g.body.Close()
}
