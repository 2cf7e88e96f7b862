// Package media decodes and encodes the images and videos swapd works on,
// enforcing limits before any expensive work is done: images in process, videos
// probed with ffprobe and streamed as raw RGB frames through ffmpeg pipes.
package media

// Frame is a packed RGB24 image: 3 bytes per pixel, rows top to bottom, no padding.
// It is the one pixel format the face pipeline works in, and the format ffmpeg emits
// with -pix_fmt rgb24, so video frames need no conversion.
type Frame struct {
	Width, Height int
	Pix           []byte // len == Width*Height*3
}

// NewFrame allocates a black frame of the given size.
func NewFrame(width, height int) Frame {
	return Frame{Width: width, Height: height, Pix: make([]byte, width*height*3)}
}

// Clone returns a deep copy of f.
func (f Frame) Clone() Frame {
	pix := make([]byte, len(f.Pix))
	copy(pix, f.Pix)
	return Frame{Width: f.Width, Height: f.Height, Pix: pix}
}
