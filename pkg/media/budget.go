package media

import (
	"bytes"
	"context"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"runtime/debug"
	"sync"

	"golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"

	"github.com/swapd/swapd/pkg/errcode"
)

// DefaultMemoryBudget is how many bytes of decoded pixels a worker holds at once by
// default (SWAPD_WORKER_MEMORY): 1 GiB. Any one job within DefaultLimits fits (the
// costliest, a 40-megapixel progressive CMYK JPEG, needs about 0.9 GB), and two jobs of
// the largest 16-bit PNGs (0.44 GB each) decode side by side.
const DefaultMemoryBudget = 1 << 30

// Budget bounds the memory a process's decoded images take at once. A 300 KB PNG can
// decode to hundreds of megabytes (6300×6300 at 16 bits a channel is 318 MB before it
// becomes a Frame), so a worker that decodes every job it has taken, before any of them
// gets an inference slot, needs a bound counted in pixels, not files. A job reserves,
// from its files' headers and before decoding anything, what it will hold (Reserve),
// waits while that does not fit, and gives it back when its frames are dropped.
//
// A nil *Budget has no limit: Reserve returns a lease that holds nothing.
type Budget struct {
	total int64
	sem   *semaphore.Weighted

	mu   sync.Mutex
	held int64
	peak int64
}

// NewBudget returns a budget of total bytes, or nil (no limit) when total <= 0.
func NewBudget(total int64) *Budget {
	if total <= 0 {
		return nil
	}
	return &Budget{total: total, sem: semaphore.NewWeighted(total)}
}

// HeapHeadroom is what LimitHeap allows the Go heap beyond the budget: buffers,
// encoded files, model outputs, everything but decoded pixels.
const HeapHeadroom = 512 << 20

// LimitHeap sets the Go runtime's soft memory limit to the budget plus HeapHeadroom,
// unless one is set already (GOMEMLIMIT), and returns the limit in force. The budget
// counts live pixels; without a limit the garbage collector lets the heap grow to
// twice what was live at its last cycle, and a decoder's image, dead once its Frame
// is made, would still take memory while the next job decodes. A nil budget sets
// nothing.
func (b *Budget) LimitHeap() int64 {
	cur := debug.SetMemoryLimit(-1)
	if b == nil || cur != math.MaxInt64 {
		return cur
	}
	debug.SetMemoryLimit(b.total + HeapHeadroom)
	return b.total + HeapHeadroom
}

// Total is the budget's size in bytes (0 for a nil budget).
func (b *Budget) Total() int64 {
	if b == nil {
		return 0
	}
	return b.total
}

// Held is how many bytes leases hold now.
func (b *Budget) Held() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// Peak is the most bytes leases have held at once.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Lease is a part of a Budget held by one job. Release gives it back; it is safe to
// call more than once and on a nil *Lease.
type Lease struct {
	b    *Budget
	n    int64
	once sync.Once
}

// Bytes is how much the lease holds.
func (l *Lease) Bytes() int64 {
	if l == nil {
		return 0
	}
	return l.n
}

// Release gives the lease's bytes back to its budget.
func (l *Lease) Release() {
	if l == nil || l.b == nil {
		return
	}
	l.once.Do(func() {
		l.b.mu.Lock()
		l.b.held -= l.n
		l.b.mu.Unlock()
		l.b.sem.Release(l.n)
	})
}

// Acquire waits until n bytes of the budget are free and takes them. Waiters are
// served in order, so a large job is not starved by small ones. n larger than the
// whole budget is IMAGE_TOO_LARGE (it could never fit); a ctx that ends first returns
// its error.
func (b *Budget) Acquire(ctx context.Context, n int64) (*Lease, error) {
	if b == nil || n <= 0 {
		return &Lease{}, nil
	}
	if n > b.total {
		return nil, errcode.New(errcode.ImageTooLarge, "decoding the job's images needs %d MiB, more than this worker's whole image memory budget of %d MiB", mib(n), mib(b.total))
	}
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.held += n
	b.peak = max(b.peak, b.held)
	b.mu.Unlock()
	return &Lease{b: b, n: n}, nil
}

func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// Reserve acquires what one job's images cost while it decodes them one after another
// and holds the result: output is the image the job writes a result of (the target;
// nil for a video, whose frames stream through bounded buffers), inputs the other
// images it decodes (sources, reference; nil entries are skipped). See JobCost.
func (b *Budget) Reserve(ctx context.Context, output []byte, inputs ...[]byte) (*Lease, error) {
	if b == nil {
		return &Lease{}, nil
	}
	return b.Acquire(ctx, JobCost(output, inputs...))
}

// JobCost is the most memory a job's decoded images take at once, from their headers:
// the output image's Frame (3 bytes a pixel, held to the end), plus the largest of
//   - decoding any one image: the decoder's own image and its Frame (ImageCost);
//   - the result: a copy of the output Frame and the RGBA image Encode makes (7 bytes a
//     pixel of the output).
//
// Images are decoded one at a time and an input's Frame is dropped once its face is
// embedded, so input costs do not add up. A file whose header does not read costs
// nothing here: decoding it fails at once.
func JobCost(output []byte, inputs ...[]byte) int64 {
	var held, peak int64
	if px, extra, ok := ImageCost(output); ok {
		held = 3 * px
		peak = max(extra, 7*px)
	}
	for _, in := range inputs {
		if px, extra, ok := ImageCost(in); ok {
			peak = max(peak, 3*px+extra)
		}
	}
	return held + peak
}

// ImageCost reads an encoded image's header and returns its pixel count and the bytes
// decoding it needs beyond its 3-byte-a-pixel Frame: the decoder's own image (bytes a
// pixel by format, bit depth and colour model; more for an interlaced PNG or a
// progressive JPEG, whose decoders keep a second buffer) or a second Frame when EXIF
// orientation turns it, whichever is more, and Decode's copy of the file. ok is false
// when the header does not read.
func ImageCost(data []byte) (pixels, extra int64, ok bool) {
	head := data
	if len(head) > HeaderBytes {
		head = head[:HeaderBytes]
	}
	info, ok := sniff(head)
	if !ok {
		return 0, 0, false
	}
	var bpp float64 // decoder's bytes per pixel
	switch info.Format {
	case "png":
		cfg, err := png.DecodeConfig(bytes.NewReader(head))
		if err != nil {
			return 0, 0, false
		}
		pixels = int64(cfg.Width) * int64(cfg.Height)
		bpp = modelBytes(cfg.ColorModel)
		if len(head) > 28 && head[28] == 1 {
			bpp *= 1.5 // Adam7: the last pass's half-size image besides the whole one
		}
	case "jpeg":
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(head))
		if err != nil {
			return 0, 0, false
		}
		pixels = int64(cfg.Width) * int64(cfg.Height)
		bpp = modelBytes(cfg.ColorModel)
		if cfg.ColorModel == color.CMYKModel {
			bpp *= 2 // decoded as YCbCr plus a black plane, then converted
		}
		if jpegProgressive(head) {
			bpp += 4 * components(cfg.ColorModel) // an int32 coefficient a sample
		}
	case "webp":
		cfg, err := webp.DecodeConfig(bytes.NewReader(head))
		if err != nil {
			return 0, 0, false
		}
		pixels = int64(cfg.Width) * int64(cfg.Height)
		bpp = 8 // lossless (VP8L) or extended (VP8X): NRGBA, and a transform's copy
		if string(head[12:16]) == "VP8 " {
			bpp = 2.5 // lossy, no alpha: YCbCr 4:2:0
		}
	}
	if pixels <= 0 {
		return 0, 0, false
	}
	// Decode also copies the file (io.ReadAll), growing its buffer as it reads.
	return pixels, int64(max(bpp, 3)*float64(pixels)) + 2*int64(len(data)), true
}

func modelBytes(m color.Model) float64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, CMYK, NYCbCrA
}

func components(m color.Model) float64 {
	switch m {
	case color.GrayModel:
		return 1
	case color.CMYKModel:
		return 4
	}
	return 3
}

// jpegProgressive reports whether the JPEG's frame header (SOFn) says progressive.
func jpegProgressive(b []byte) bool {
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return false
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xD0 && m <= 0xD7: // no length
			i += 2
			continue
		case m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE:
			return true
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC, m == 0xDA:
			return false // another frame type, or the scan began without one
		}
		i += 2 + (int(b[i+2])<<8 | int(b[i+3]))
	}
	return false
}
