package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// Encoder writes RGB24 frames into a video file through a single ffmpeg process that
// reads them from a pipe, so processed frames never touch the disk either, and can
// bring over the source's audio in the same pass.
//
// Write is used by one goroutine. Abort may be called from any goroutine, and is
// safe to defer: after a successful Close it does nothing.
type Encoder struct {
	ctx        context.Context
	out        string
	audioFrom  string
	width      int
	height     int
	frameBytes int
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	stderr     *videoStderr
	frames     int

	mu      sync.Mutex
	state   int   // encoderOpen, encoderClosed or encoderAborted
	err     error // sticky Write error
	waitOne sync.Once
	waitErr error

	// AudioCopied reports whether the source audio is stream-copied (true) or
	// re-encoded (false); meaningless when the output has no audio.
	AudioCopied bool
}

const (
	encoderOpen = iota
	encoderClosed
	encoderAborted
)

// videoOutputContainer picks the output container from out's extension: .mov, .webm
// and .mkv name theirs, anything else (.mp4, .m4v, none) gets MP4.
func videoOutputContainer(out string) (container, muxer string) {
	switch strings.ToLower(filepath.Ext(out)) {
	case ".mov":
		return ContainerMOV, "mov"
	case ".webm":
		return ContainerWebM, "webm"
	case ".mkv":
		return ContainerMKV, "matroska"
	}
	return ContainerMP4, "mp4"
}

// NewEncoder starts an ffmpeg that encodes info.Width × info.Height RGB24 frames to
// out, overwriting it. The container follows out's extension (.mp4 — the default for
// any other name —, .mov, .webm, .mkv).
//
// Frames are read as rawvideo at -r info.FPSRational, the exact rational ffprobe gave
// (30000/1001, not 29.97), and written with -fps_mode passthrough, so the output has
// exactly the frames written and the source's frame rate: nothing is dropped or
// duplicated, and the soundtrack stays in sync for the whole video.
//
// Pixels are converted to yuv420p (what every player decodes) with the BT.709 matrix
// and tagged as BT.709, as FaceFusion does; an untagged conversion would shift colours
// in players that assume BT.709 for HD. Odd sizes are padded by one pixel, which
// yuv420p requires. MP4 and MOV get -movflags +faststart: the index moves to the front,
// so a browser can start playing the result before it is fully downloaded.
//
// When audioFrom is not "" and info.HasAudio, the first audio stream of audioFrom (the
// source video) is mapped in; it is stream-copied, bit for bit, when the container
// takes info.AudioCodec, else re-encoded (see videoAudioArgs). It is not cut to the
// video's length: every frame is kept, so the lengths already match the source's, and
// -shortest would cut a copied stream at a packet boundary anyway. The video starts at
// time 0: a source whose first frame is stamped later than its audio (commonly one
// frame, from a B-frame edit list) comes out with the audio up to that much behind,
// 33 ms for the test video, well under the ~125 ms at which a lag is noticed.
//
// An HDR source (info.Color.HDR()) decoded with HDRToneMap is written exactly like
// SDR. With opts.HDR HDRKeep (and frames from a Decoder in the same mode) it is
// written as 10-bit HEVC: libx265 main10, yuv420p10le, the BT.2020 matrix redone,
// tagged with the source's transfer (smpte2084 or arib-std-b67), bt2020 primaries
// and bt2020nc matrix in the container and the bitstream, plus the source's
// mastering-display and max-cll metadata when it had them (x265 master-display and
// max-cll SEI; hdr10=1 for PQ). opts.Encoder must then be "" or libx265.
//
// The process is killed when ctx is cancelled. Finish with Close, or Abort on failure.
func NewEncoder(ctx context.Context, out string, info VideoInfo, opts EncodeOptions, audioFrom string) (*Encoder, error) {
	w, h := info.Width, info.Height
	if w <= 0 || h <= 0 || w > 1<<15 || h > 1<<15 {
		return nil, fmt.Errorf("encoder: bad frame size %dx%d in VideoInfo", w, h)
	}
	if _, ok := parseRational(info.FPSRational); !ok {
		return nil, fmt.Errorf("encoder: bad frame rate %q in VideoInfo", info.FPSRational)
	}
	container, muxer := videoOutputContainer(out)
	if info.Color.HDR() && opts.HDR == HDRKeep {
		// Keeping HDR means 10-bit HEVC from libx265, whatever the default would be.
		if opts.Encoder != "" && opts.Encoder != EncoderX265 {
			return nil, errcode.New(errcode.InvalidRequest, "video HDR keep writes 10-bit HEVC with %s, not %s", EncoderX265, opts.Encoder)
		}
		opts.Encoder = EncoderX265
	}
	opts, err := opts.resolve(ctx, container)
	if err != nil {
		return nil, err
	}

	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", w, h), "-r", info.FPSRational, "-i", "pipe:0"}
	withAudio := audioFrom != "" && info.HasAudio
	if withAudio {
		src, err := videoSniffFile(audioFrom)
		if err != nil {
			return nil, fmt.Errorf("encoder: audio source: %w", err)
		}
		args = append(args, videoInputArgs(src, audioFrom)...)
	}
	args = append(args, "-map", "0:v:0")
	if withAudio {
		args = append(args, "-map", "1:a:0?")
	}
	hdrVF, hdrArgs := hdrEncodeArgs(info.Color, opts.HDR, opts.Quality, container)
	vf := "scale=out_color_matrix=bt709:out_range=tv"
	if hdrVF != "" {
		vf = hdrVF
	}
	if w%2 != 0 || h%2 != 0 {
		vf += ",pad=ceil(iw/2)*2:ceil(ih/2)*2"
	}
	if hdrArgs != nil {
		args = append(args, hdrArgs...)
		args = append(args, "-vf", vf)
	} else {
		args = append(args, opts.args(container)...)
		args = append(args, "-vf", vf, "-pix_fmt", "yuv420p",
			"-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")
	}
	args = append(args, "-fps_mode", "passthrough")
	e := &Encoder{ctx: ctx, out: out, audioFrom: audioFrom, width: w, height: h, frameBytes: w * h * 3, stderr: &videoStderr{}}
	if withAudio {
		var audio []string
		audio, e.AudioCopied = videoAudioArgs(container, info.AudioCodec)
		args = append(args, audio...)
	}
	if container == ContainerMP4 || container == ContainerMOV {
		args = append(args, "-movflags", "+faststart")
	}
	args = append(args, "-f", muxer, "file:"+out)

	bin := FFmpegPath()
	e.cmd = exec.CommandContext(ctx, bin, args...)
	e.cmd.WaitDelay = 5 * time.Second
	e.cmd.Stderr = e.stderr
	if e.stdin, err = e.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	if err := e.cmd.Start(); err != nil {
		return nil, videoStartErr(bin, err)
	}
	return e, nil
}

// Write encodes one frame, which must have the Encoder's size. f is not retained: the
// caller may reuse its buffer as soon as Write returns. If ffmpeg has failed, Write
// returns its error (with ffmpeg's stderr), and so does every later call.
func (e *Encoder) Write(f Frame) error {
	e.mu.Lock()
	err := e.usable()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if f.Width != e.width || f.Height != e.height || len(f.Pix) < e.frameBytes {
		return fmt.Errorf("encoder: frame is %dx%d with %d bytes, want %dx%d", f.Width, f.Height, len(f.Pix), e.width, e.height)
	}
	if _, err := e.stdin.Write(f.Pix[:e.frameBytes]); err != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.err == nil && e.state == encoderOpen {
			e.wait()
			e.err = e.failure("frame %d could not be written", e.frames+1)
		}
		if uerr := e.usable(); uerr != nil {
			return uerr
		}
		return err
	}
	e.frames++
	return nil
}

// usable reports why the Encoder cannot take frames, if it cannot. Called with mu held.
func (e *Encoder) usable() error {
	switch {
	case e.err != nil:
		return e.err
	case e.state == encoderClosed:
		return errors.New("encoder: closed")
	case e.state == encoderAborted:
		return errors.New("encoder: aborted")
	}
	return nil
}

// failure explains why ffmpeg stopped, after it has been reaped.
func (e *Encoder) failure(format string, args ...any) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	what := fmt.Sprintf(format, args...)
	return fmt.Errorf("encoder: %s: ffmpeg: %v: %s", what, e.waitErr, videoDetail(e.stderr.Tail(e.hide())))
}

func (e *Encoder) hide() [][2]string {
	return append(videoHide(e.out), videoHide(e.audioFrom)...)
}

// wait reaps ffmpeg once, whoever gets there first.
func (e *Encoder) wait() error {
	e.waitOne.Do(func() { e.waitErr = e.cmd.Wait() })
	return e.waitErr
}

// Frames returns how many frames have been written.
func (e *Encoder) Frames() int { return e.frames }

// Close ends the input, lets ffmpeg finish the file (for MP4 and MOV, the faststart
// pass rewrites it once) and reports whether it succeeded, with the tail of ffmpeg's
// stderr when not. On any failure — including no frames written — the partial file is
// removed, so a file at out always is a complete video.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(); err != nil {
		if e.state == encoderOpen {
			e.abortLocked()
		}
		return err
	}
	if e.frames == 0 {
		e.abortLocked()
		return errors.New("encoder: no frames were written")
	}
	e.stdin.Close()
	if err := e.wait(); err != nil {
		e.err = e.failure("finishing %d frames", e.frames)
		e.abortLocked()
		return e.err
	}
	e.state = encoderClosed
	return nil
}

// Abort kills ffmpeg and removes the partial output; it is what a cancelled job calls.
// It does nothing after a successful Close and is safe to call more than once.
func (e *Encoder) Abort() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == encoderOpen {
		e.abortLocked()
	}
}

func (e *Encoder) abortLocked() {
	e.state = encoderAborted
	e.cmd.Process.Kill()
	e.stdin.Close()
	e.wait()
	os.Remove(e.out)
}
