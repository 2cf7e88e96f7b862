package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// VideoInfo is what Probe learns about a video before any frame is decoded: enough to
// check limits, size the frame buffers and set up an Encoder that reproduces the
// source's frame rate and audio.
type VideoInfo struct {
	Container string `json:"container"` // mp4, mov, webm or mkv, from SniffVideo (content, not name)
	Size      int64  `json:"size"`      // bytes on disk

	// VideoStream is the absolute index of the video stream the Decoder reads: the
	// first video stream that is not an attached picture (cover art is stored as a
	// one-frame video stream and may come first).
	VideoStream int    `json:"video_stream"`
	Codec       string `json:"codec"`   // h264, hevc, vp9…
	PixFmt      string `json:"pix_fmt"` // the stream's pixel format (yuv420p, yuv420p10le…)

	// Width and Height are the size of the frames the Decoder returns: the stored size
	// with Rotation applied. ffmpeg rotates while decoding, so faces reach the detector
	// upright and the Encoder writes an upright video without rotation metadata.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Rotation is the clockwise turn, in degrees (0, 90, 180 or 270), that the file's
	// display matrix asks for and that decoding applies.
	Rotation int `json:"rotation"`

	// FPSRational is the frame rate exactly as ffprobe gives it ("30000/1001", "25/1"),
	// taken from avg_frame_rate, or r_frame_rate when the average is unknown. The Encoder
	// passes this string to ffmpeg unchanged: 29.97 is not 30000/1001, and the
	// difference drifts audio out of sync by a frame every 33 seconds.
	FPSRational string  `json:"fps_rational"`
	FPS         float64 `json:"fps"` // FPSRational as a number, for display and arithmetic

	// Frames is the number of frames in the video stream: the container's count
	// (nb_frames: MP4/MOV keep one in the sample table) when it has one, else the number
	// of packets ffprobe counts by demuxing the stream (-count_packets; WebM and MKV
	// keep no count). Both are read without decoding. Decoding can yield slightly
	// fewer when an edit list hides leading frames; the Decoder's count is the truth.
	Frames   int           `json:"frames"`
	Duration time.Duration `json:"duration"` // container duration, else the stream's

	// ExpectedFrames is how many frames the file announces in its header: nb_frames
	// where the container keeps a count (MP4/MOV), else the video stream's duration
	// (its own, or MKV's per-stream DURATION tag, else the container's) times FPS.
	// Unlike Frames it does not come from reading the packets, so a file cut short (a
	// partial download) still announces its full length: a Decoder yielding far fewer
	// frames than this read a truncated file (see Truncated). 0 when unknown.
	ExpectedFrames int `json:"expected_frames,omitempty"`

	HasAudio   bool   `json:"has_audio"`
	AudioCodec string `json:"audio_codec,omitempty"` // codec of the first audio stream (aac, opus…)

	// Color is the video stream's colour description; Color.HDR() says whether the
	// Decoder and Encoder treat it as HDR (see HDRToneMap and HDRKeep).
	Color VideoColor `json:"color"`
}

// Probe describes the video at path (a local file: the worker downloads inputs to a
// temporary file first, which ffprobe needs anyway to seek in MP4s whose index is at
// the end). It runs ffprobe once with -show_streams -show_format, once more with
// -count_packets only when the container keeps no frame count, and, for an HDR
// stream only, once to decode its first frame's HDR metadata (see VideoColor).
//
// Errors are *errcode.Error for everything about the input: EmptyInput for a zero-byte
// file, UnsupportedMedia for a file that is not MP4, MOV, WebM or MKV by content or
// holds no video stream, CorruptInput for one ffprobe cannot read (with ffprobe's
// reason). A missing ffprobe is Unavailable; a cancelled ctx returns ctx.Err().
func Probe(ctx context.Context, path string) (VideoInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return VideoInfo{}, fmt.Errorf("probe: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return VideoInfo{}, fmt.Errorf("probe: %w", err)
	}
	if st.Size() == 0 {
		f.Close()
		return VideoInfo{}, errcode.New(errcode.EmptyInput, "the file is empty (0 bytes)")
	}
	head, err := videoReadHead(f)
	f.Close()
	if err != nil {
		return VideoInfo{}, fmt.Errorf("probe: %w", err)
	}
	container, ok := SniffVideo(head)
	if !ok {
		return VideoInfo{}, errcode.New(errcode.UnsupportedMedia, "the file is not an MP4, MOV, WebM or MKV video (its content was checked, not its name)")
	}

	out, err := probeRun(ctx, container, path, "-show_streams", "-show_format")
	if err != nil {
		return VideoInfo{}, err
	}
	var doc probeJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		return VideoInfo{}, fmt.Errorf("probe: ffprobe printed JSON that does not parse: %w", err)
	}
	info, err := doc.info(container, st.Size())
	if err != nil {
		return VideoInfo{}, err
	}
	if info.Color.HDR() {
		if err := probeHDRMetadata(ctx, container, path, info.VideoStream, &info.Color); err != nil {
			return VideoInfo{}, err
		}
	}
	if info.Frames <= 0 {
		info.Frames, err = probeCountPackets(ctx, container, path, info.VideoStream)
		if err != nil {
			return VideoInfo{}, err
		}
	}
	if info.Duration <= 0 && info.FPS > 0 {
		info.Duration = time.Duration(float64(info.Frames) / info.FPS * float64(time.Second))
	}
	return info, nil
}

// Truncated reports whether decoded frames fall short of the frames the header
// announced (ExpectedFrames) by more than estimation slack: two frames, or 1% of a
// long video (an announced count from duration × fps is off by a frame or so, and an
// edit list may hide leading frames). A false answer when ExpectedFrames is unknown.
func (info VideoInfo) Truncated(decoded int) bool {
	if info.ExpectedFrames <= 0 {
		return false
	}
	slack := max(2, info.ExpectedFrames/100)
	return decoded < info.ExpectedFrames-slack
}

// probeRun runs ffprobe on path with JSON output and the given extra arguments.
func probeRun(ctx context.Context, container, path string, args ...string) ([]byte, error) {
	bin := FFprobePath()
	full := append([]string{"-v", "error", "-print_format", "json"}, args...)
	full = append(full, videoInputArgs(container, path)...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var stdout bytes.Buffer
	stderr := &videoStderr{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, videoStartErr(bin, err)
		}
		return nil, errcode.New(errcode.CorruptInput, "the video cannot be read: %s", videoDetail(stderr.Tail(videoHide(path))))
	}
	return stdout.Bytes(), nil
}

// probeCountPackets counts the packets of one stream by demuxing the whole file (no
// decoding: seconds for a long 4K file).
func probeCountPackets(ctx context.Context, container, path string, stream int) (int, error) {
	out, err := probeRun(ctx, container, path, "-select_streams", strconv.Itoa(stream), "-count_packets", "-show_entries", "stream=nb_read_packets")
	if err != nil {
		return 0, err
	}
	var doc probeJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, fmt.Errorf("probe: ffprobe printed JSON that does not parse: %w", err)
	}
	if len(doc.Streams) == 0 {
		return 0, errcode.New(errcode.CorruptInput, "the video stream's frames cannot be counted")
	}
	n, _ := strconv.Atoi(doc.Streams[0].NbReadPackets)
	if n <= 0 {
		return 0, errcode.New(errcode.CorruptInput, "the video stream holds no frames")
	}
	return n, nil
}

// probeJSON is the part of ffprobe's -print_format json output Probe reads. ffprobe
// prints most numbers as strings.
type probeJSON struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

type probeStream struct {
	Index         int               `json:"index"`
	CodecType     string            `json:"codec_type"`
	CodecName     string            `json:"codec_name"`
	Width         int               `json:"width"`
	Height        int               `json:"height"`
	PixFmt        string            `json:"pix_fmt"`
	ColorTransfer string            `json:"color_transfer"`
	ColorPrims    string            `json:"color_primaries"`
	ColorSpace    string            `json:"color_space"`
	ColorRange    string            `json:"color_range"`
	AvgFrameRate  string            `json:"avg_frame_rate"`
	RFrameRate    string            `json:"r_frame_rate"`
	NbFrames      string            `json:"nb_frames"`
	NbReadPackets string            `json:"nb_read_packets"`
	Duration      string            `json:"duration"`
	Tags          map[string]string `json:"tags"`
	Disposition   struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
	SideData []struct {
		Type     string  `json:"side_data_type"`
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
}

func (doc *probeJSON) info(container string, size int64) (VideoInfo, error) {
	info := VideoInfo{Container: container, Size: size}
	var video *probeStream
	for i := range doc.Streams {
		s := &doc.Streams[i]
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && video == nil:
			video = s
		case s.CodecType == "audio" && !info.HasAudio:
			info.HasAudio, info.AudioCodec = true, s.CodecName
		}
	}
	if video == nil {
		return VideoInfo{}, errcode.New(errcode.UnsupportedMedia, "the %s file holds no video stream", container)
	}
	info.VideoStream, info.Codec, info.PixFmt = video.Index, video.CodecName, video.PixFmt
	info.Color = VideoColor{Transfer: video.ColorTransfer, Primaries: video.ColorPrims, Matrix: video.ColorSpace, Range: video.ColorRange}
	if video.Width <= 0 || video.Height <= 0 {
		return VideoInfo{}, errcode.New(errcode.CorruptInput, "the video stream has no frame size (%dx%d)", video.Width, video.Height)
	}
	info.Width, info.Height = video.Width, video.Height
	info.Rotation = video.rotation()
	if info.Rotation == 90 || info.Rotation == 270 {
		info.Width, info.Height = info.Height, info.Width
	}

	rate := video.AvgFrameRate
	fps, ok := parseRational(rate)
	if !ok {
		rate = video.RFrameRate
		fps, ok = parseRational(rate)
	}
	if !ok {
		return VideoInfo{}, errcode.New(errcode.CorruptInput, "the video stream has no frame rate (avg_frame_rate %q, r_frame_rate %q)", video.AvgFrameRate, video.RFrameRate)
	}
	info.FPSRational, info.FPS = rate, fps

	info.Frames, _ = strconv.Atoi(video.NbFrames)
	if d, ok := probeSeconds(doc.Format.Duration); ok {
		info.Duration = d
	} else if d, ok := probeSeconds(video.Duration); ok {
		info.Duration = d
	}
	info.ExpectedFrames = info.Frames // nb_frames: the container's own count
	if info.ExpectedFrames <= 0 {
		d, ok := probeSeconds(video.Duration)
		if !ok {
			d, ok = probeClock(video.Tags["DURATION"])
		}
		if !ok {
			d, ok = info.Duration, info.Duration > 0
		}
		if ok {
			info.ExpectedFrames = int(math.Round(d.Seconds() * fps))
		}
	}
	return info, nil
}

// probeClock parses a Matroska DURATION tag ("00:00:03.036000000"); ffmpeg's muxer
// writes one per stream, the only per-stream length an MKV carries.
func probeClock(s string) (time.Duration, bool) {
	h, rest, ok1 := strings.Cut(strings.TrimSpace(s), ":")
	m, sec, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	ss, err3 := strconv.ParseFloat(sec, 64)
	if err1 != nil || err2 != nil || err3 != nil || hh < 0 || mm < 0 || ss < 0 {
		return 0, false
	}
	d := time.Duration((float64(hh*3600+mm*60) + ss) * float64(time.Second))
	return d, d > 0
}

// rotation returns the clockwise display rotation, normalised to 0, 90, 180 or 270.
// ffprobe reports the display matrix's counter-clockwise angle as "rotation" (ffmpeg
// negates it when auto-rotating); older muxers also wrote a clockwise "rotate" tag.
func (s *probeStream) rotation() int {
	deg := 0.0
	found := false
	for _, sd := range s.SideData {
		if sd.Type == "Display Matrix" {
			deg, found = -sd.Rotation, true
			break
		}
	}
	if !found {
		if r, err := strconv.ParseFloat(s.Tags["rotate"], 64); err == nil {
			deg = r
		}
	}
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// parseRational parses a frame rate as ffprobe prints it ("30000/1001", "25/1", or a
// plain "25") and reports whether it is a usable positive rate; "0/0" is ffprobe's
// "unknown".
func parseRational(s string) (float64, bool) {
	num, den, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		den = "1"
	}
	n, err1 := strconv.ParseInt(num, 10, 64)
	d, err2 := strconv.ParseInt(den, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 || d <= 0 {
		return 0, false
	}
	return float64(n) / float64(d), true
}

// probeSeconds parses ffprobe's decimal seconds ("3.041811"); "N/A" and "" are unknown.
func probeSeconds(s string) (time.Duration, bool) {
	sec, err := strconv.ParseFloat(s, 64)
	if err != nil || sec <= 0 || math.IsInf(sec, 0) || math.IsNaN(sec) {
		return 0, false
	}
	return time.Duration(sec * float64(time.Second)), true
}
