package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// Decoder streams the frames of one video as packed RGB24 from a single ffmpeg
// process. Frames travel through a pipe straight into the caller's buffers: nothing is
// written to disk (FaceFusion's older "disk" workflow extracted every frame to PNG,
// which for a 10-minute 1080p clip is tens of gigabytes and most of the run time),
// and nothing is converted, because rgb24 is the pipeline's own format.
//
// A Decoder is used by one goroutine; to stop it from another, cancel its context.
type Decoder struct {
	ctx        context.Context
	path       string
	width      int
	height     int
	frameBytes int
	cmd        *exec.Cmd
	stdout     io.ReadCloser
	stderr     *videoStderr

	frames int   // frames returned so far
	err    error // sticky: io.EOF or the failure Next reported

	waitOnce sync.Once
	waitErr  error
	killed   bool
}

// NewDecoder starts decoding the video at path, which Probe described as info. It runs
//
//	ffmpeg -v error -i path -map 0:<info.VideoStream> -fps_mode passthrough
//	       -s WxH -pix_fmt rgb24 -f rawvideo pipe:1
//
// -fps_mode passthrough (ffmpeg ≥ 5.1; the old -vsync 0) hands over every decoded
// frame once, neither duplicating nor dropping any to fit a constant rate, so the
// Encoder can write exactly the frames it is given. ffmpeg applies the display
// rotation, so frames are info.Width × info.Height and upright; -s pins that size
// even if the stream changes resolution midway, so every frame has the same length.
//
// An HDR video (info.Color.HDR()) is tone-mapped to BT.709 SDR while decoding, as
// NewDecoderHDR does with HDRToneMap.
//
// The process is killed when ctx is cancelled. Always Close the Decoder.
func NewDecoder(ctx context.Context, path string, info VideoInfo) (*Decoder, error) {
	return NewDecoderHDR(ctx, path, info, "")
}

// NewDecoderHDR is NewDecoder with a choice of what happens to an HDR video: hdrMode
// HDRToneMap ("" too) tone-maps it to BT.709 SDR, HDRKeep returns its PQ/HLG-coded
// BT.2020 RGB for an Encoder given the same mode (see hdrDecodeFilter). The frames of
// an SDR video are the same in every mode. Tone-mapping needs ffmpeg's zscale filter
// (libzimg); without it an HDR video with HDRToneMap is refused as Unavailable rather
// than decoded washed out.
func NewDecoderHDR(ctx context.Context, path string, info VideoInfo, hdrMode string) (*Decoder, error) {
	mode, err := normHDRMode(hdrMode)
	if err != nil {
		return nil, err
	}
	w, h := info.Width, info.Height
	if w <= 0 || h <= 0 || w > 1<<15 || h > 1<<15 {
		return nil, fmt.Errorf("decoder: bad frame size %dx%d in VideoInfo", w, h)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	args := []string{"-nostdin", "-hide_banner", "-v", "error"}
	args = append(args, videoInputArgs(info.Container, path)...)
	args = append(args,
		"-map", "0:"+strconv.Itoa(info.VideoStream),
		"-fps_mode", "passthrough")
	if vf := hdrDecodeFilter(info.Color, mode, w, h); vf != "" {
		if mode == HDRToneMap {
			ok, err := HasFilter(ctx, "zscale")
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, errcode.New(errcode.Unavailable, "the video is HDR (%s) and this server's ffmpeg has no zscale filter to tone-map it; ask for video_hdr keep", info.Color.Transfer)
			}
		}
		args = append(args, "-vf", vf)
	}
	args = append(args,
		"-s", fmt.Sprintf("%dx%d", w, h),
		"-pix_fmt", "rgb24",
		"-f", "rawvideo", "pipe:1")
	bin := FFmpegPath()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	d := &Decoder{ctx: ctx, path: path, width: w, height: h, frameBytes: w * h * 3, cmd: cmd, stderr: &videoStderr{}}
	cmd.Stderr = d.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	d.stdout = stdout
	if err := cmd.Start(); err != nil {
		return nil, videoStartErr(bin, err)
	}
	return d, nil
}

// Next decodes the next frame into dst, reusing dst.Pix when it is large enough (pass
// the same Frame every time, or one from a pool, and decoding allocates nothing).
// It returns io.EOF after the last frame. A video that stops decoding midway is
// reported as CorruptInput with ffmpeg's reason; a cancelled context as ctx.Err().
// After an error, every call returns the same error.
func (d *Decoder) Next(dst *Frame) error {
	if d.err != nil {
		return d.err
	}
	if cap(dst.Pix) < d.frameBytes {
		dst.Pix = make([]byte, d.frameBytes)
	}
	dst.Width, dst.Height, dst.Pix = d.width, d.height, dst.Pix[:d.frameBytes]
	_, err := io.ReadFull(d.stdout, dst.Pix)
	if err == nil {
		d.frames++
		return nil
	}
	d.err = d.finish(err)
	return d.err
}

// finish turns the read error that ended the stream into what Next reports.
func (d *Decoder) finish(readErr error) error {
	waitErr := d.wait()
	if err := d.ctx.Err(); err != nil {
		return err
	}
	if d.killed {
		return errors.New("decoder: closed")
	}
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		return errcode.New(errcode.CorruptInput, "the video stopped decoding after %d frames: %s", d.frames, videoDetail(d.stderr.Tail(videoHide(d.path))))
	case waitErr != nil:
		return fmt.Errorf("decoder: ffmpeg: %w", waitErr)
	case errors.Is(readErr, io.ErrUnexpectedEOF):
		return fmt.Errorf("decoder: ffmpeg ended in the middle of frame %d", d.frames+1)
	case !errors.Is(readErr, io.EOF):
		return fmt.Errorf("decoder: read frame: %w", readErr)
	case d.frames == 0:
		return errcode.New(errcode.CorruptInput, "the video holds no decodable frames: %s", videoDetail(d.stderr.Tail(videoHide(d.path))))
	}
	return io.EOF
}

// wait reaps ffmpeg once, whichever of Next and Close gets there first.
func (d *Decoder) wait() error {
	d.waitOnce.Do(func() { d.waitErr = d.cmd.Wait() })
	return d.waitErr
}

// Frames returns how many frames Next has returned so far; after io.EOF, the number
// of frames in the video.
func (d *Decoder) Frames() int { return d.frames }

// Close stops ffmpeg (killing it when frames are left unread) and reaps it. It is
// safe to call more than once and after Next has returned an error. Decoding errors
// are reported by Next; Close returns one only when ffmpeg failed on its own and Next
// has not reported it yet.
func (d *Decoder) Close() error {
	if d.err == nil {
		if err := d.cmd.Process.Kill(); err == nil {
			d.killed = true
		}
		err := d.finish(io.EOF)
		if d.killed || errors.Is(err, io.EOF) || d.ctx.Err() != nil {
			err = nil
		}
		d.err = errors.New("decoder: closed")
		return err
	}
	d.wait()
	return nil
}
