package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"sync"

	"github.com/swapd/swapd/pkg/errcode"
)

// Video encoders swapd drives, by ffmpeg name.
const (
	EncoderX264      = "libx264"    // the default: everywhere, fast, plays everywhere
	EncoderX265      = "libx265"    // half the size at the same quality, slower
	EncoderVP9       = "libvpx-vp9" // the only choice for WebM output, and its default
	EncoderNVENCH264 = "h264_nvenc" // NVIDIA hardware H.264; needs a GPU at run time
	EncoderNVENCHEVC = "hevc_nvenc" // NVIDIA hardware HEVC
)

// DefaultVideoQuality is FaceFusion's default output quality (crf 10 for x264): the
// swapped faces must not be smeared by the encoder.
const DefaultVideoQuality = 80

// EncodeOptions choose how an Encoder compresses video.
type EncodeOptions struct {
	// Encoder is one of the Encoder* names; "" means libx264, or libvpx-vp9 for WebM.
	Encoder string
	// Quality is 1–100 (higher is better and larger); 0 means DefaultVideoQuality. It
	// maps onto each encoder's constant-quality scale as FaceFusion does: x264/x265 and
	// NVENC crf/cq = round(51 − 0.51·q), VP9 crf = round(63 − 0.63·q).
	Quality int
	// HDR is what happens to an HDR source: HDRToneMap ("" too) or HDRKeep. It must
	// match the mode its Decoder was given. SDR sources are unaffected.
	HDR string
}

// videoEncoderContainers says which containers each encoder's output may go into.
var videoEncoderContainers = map[string][]string{
	EncoderX264:      {ContainerMP4, ContainerMOV, ContainerMKV},
	EncoderX265:      {ContainerMP4, ContainerMOV, ContainerMKV},
	EncoderVP9:       {ContainerMP4, ContainerWebM, ContainerMKV},
	EncoderNVENCH264: {ContainerMP4, ContainerMOV, ContainerMKV},
	EncoderNVENCHEVC: {ContainerMP4, ContainerMOV, ContainerMKV},
}

// resolve fills in defaults and checks opts against the output container and the
// encoders this ffmpeg has. Bad choices are InvalidRequest: they come from the request.
func (opts EncodeOptions) resolve(ctx context.Context, container string) (EncodeOptions, error) {
	if opts.Encoder == "" {
		opts.Encoder = EncoderX264
		if container == ContainerWebM {
			opts.Encoder = EncoderVP9
		}
	}
	if opts.Quality == 0 {
		opts.Quality = DefaultVideoQuality
	}
	mode, err := normHDRMode(opts.HDR)
	if err != nil {
		return opts, err
	}
	opts.HDR = mode
	if opts.Quality < 1 || opts.Quality > 100 {
		return opts, errcode.New(errcode.InvalidRequest, "video quality %d is not between 1 and 100", opts.Quality)
	}
	containers, known := videoEncoderContainers[opts.Encoder]
	if !known {
		return opts, errcode.New(errcode.InvalidRequest, "video encoder %q is not one of %s, %s, %s, %s, %s", opts.Encoder, EncoderX264, EncoderX265, EncoderVP9, EncoderNVENCH264, EncoderNVENCHEVC)
	}
	ok := false
	for _, c := range containers {
		ok = ok || c == container
	}
	if !ok {
		return opts, errcode.New(errcode.InvalidRequest, "video encoder %s cannot write %s files", opts.Encoder, container)
	}
	have, err := AvailableEncoders(ctx)
	if err != nil {
		return opts, err
	}
	for _, name := range have {
		if name == opts.Encoder {
			return opts, nil
		}
	}
	return opts, errcode.New(errcode.InvalidRequest, "video encoder %s is not available in this server's ffmpeg", opts.Encoder)
}

// args returns the codec and quality arguments for ffmpeg.
func (opts EncodeOptions) args(container string) []string {
	q := float64(opts.Quality)
	crf51 := fmt.Sprint(int(math.Round(51 - 0.51*q)))
	switch opts.Encoder {
	case EncoderVP9:
		// -b:v 0 makes -crf a pure quality target; cpu-used 4 with row threading is
		// libvpx's usual speed/quality balance for "good" (veryfast has no VP9 twin).
		return []string{"-c:v", opts.Encoder, "-crf", fmt.Sprint(int(math.Round(63 - 0.63*q))), "-b:v", "0",
			"-deadline", "good", "-cpu-used", "4", "-row-mt", "1"}
	case EncoderNVENCH264, EncoderNVENCHEVC:
		// NVENC reads cq 0 as "automatic", not "best", so the scale stops at 1.
		cq := int(math.Max(1, math.Round(51-0.51*q)))
		args := []string{"-c:v", opts.Encoder, "-preset", "p2", "-rc", "vbr", "-cq", fmt.Sprint(cq), "-b:v", "0"}
		if opts.Encoder == EncoderNVENCHEVC && (container == ContainerMP4 || container == ContainerMOV) {
			args = append(args, "-tag:v", "hvc1")
		}
		return args
	case EncoderX265:
		args := []string{"-c:v", opts.Encoder, "-crf", crf51, "-preset", "veryfast", "-x265-params", "log-level=error"}
		if container == ContainerMP4 || container == ContainerMOV {
			// Apple players play HEVC in MP4/MOV only under the hvc1 tag (ffmpeg
			// writes hev1 by default).
			args = append(args, "-tag:v", "hvc1")
		}
		return args
	}
	return []string{"-c:v", opts.Encoder, "-crf", crf51, "-preset", "veryfast"}
}

var videoEncodersCache sync.Map // ffmpeg path → []string

// AvailableEncoders lists the encoders (video and audio) the configured ffmpeg was
// built with, from `ffmpeg -encoders`. A build that lists h264_nvenc can still fail
// to open it on a machine without an NVIDIA GPU; that shows when encoding starts.
// The answer is cached per ffmpeg path.
func AvailableEncoders(ctx context.Context) ([]string, error) {
	bin := FFmpegPath()
	if v, ok := videoEncodersCache.Load(bin); ok {
		return v.([]string), nil
	}
	out, err := exec.CommandContext(ctx, bin, "-hide_banner", "-encoders").Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, videoStartErr(bin, err)
	}
	names := parseFFmpegEncoders(out)
	videoEncodersCache.Store(bin, names)
	return names, nil
}

// parseFFmpegEncoders reads the table `ffmpeg -encoders` prints: a legend, a line of
// dashes, then one " V....D name  description" line per encoder.
func parseFFmpegEncoders(out []byte) []string {
	var names []string
	table := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !table {
			table = strings.HasPrefix(line, "---")
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && len(f[0]) == 6 {
			names = append(names, f[1])
		}
	}
	return names
}
