package media

import "sync"

// FramePool recycles the pixel buffers of frames of one size. A video worker that
// decodes ahead, swaps faces on several frames at once and encodes in order holds a
// handful of frames in flight; at 1080p each is 6 MB, and allocating one per frame
// would have the garbage collector clearing gigabytes per minute of video.
// It is safe for concurrent use.
type FramePool struct {
	width, height int
	pool          sync.Pool // of *[]byte, so Put does not allocate
}

// NewFramePool returns a pool of width×height frames.
func NewFramePool(width, height int) *FramePool {
	p := &FramePool{width: width, height: height}
	n := width * height * 3
	p.pool.New = func() any {
		b := make([]byte, n)
		return &b
	}
	return p
}

// Get returns a frame of the pool's size. Its pixels are whatever the last user left
// (Decoder.Next overwrites all of them).
func (p *FramePool) Get() Frame {
	b := p.pool.Get().(*[]byte)
	return Frame{Width: p.width, Height: p.height, Pix: *b}
}

// Put returns f's buffer to the pool. Frames of another size are dropped. f must not
// be used afterwards.
func (p *FramePool) Put(f Frame) {
	if f.Width != p.width || f.Height != p.height || cap(f.Pix) < p.width*p.height*3 {
		return
	}
	b := f.Pix[:p.width*p.height*3]
	p.pool.Put(&b)
}
