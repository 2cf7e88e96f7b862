package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/swapd/swapd/pkg/errcode"
)

// HDR handling: what the Decoder and Encoder do with a video whose transfer is PQ
// (smpte2084) or HLG (arib-std-b67). SDR videos are not affected by either mode.
const (
	// HDRToneMap (the default) tone-maps HDR to BT.709 SDR while decoding (zscale to
	// linear light, Hable tone curve, BT.709 primaries and gamma), and the output is
	// ordinary 8-bit yuv420p tagged BT.709, like every SDR output.
	HDRToneMap = "tonemap"
	// HDRKeep keeps the video HDR: frames are decoded to 8-bit RGB still coded in the
	// source's transfer and primaries (only the BT.2020 matrix is undone, which the
	// Encoder redoes exactly), and written as 10-bit HEVC (libx265 main10,
	// yuv420p10le) tagged with the source's transfer, primaries and matrix, and its
	// mastering-display and content-light metadata when it had them. The pixels carry
	// 8 bits of precision inside a 10-bit stream: the pipeline works on 8-bit RGB.
	HDRKeep = "keep"
)

// Transfers that make a video HDR, as ffprobe names them.
const (
	TransferPQ  = "smpte2084"
	TransferHLG = "arib-std-b67"
)

// VideoColor is the colour description of a video stream, as ffprobe reports it, plus
// the HDR static metadata of its first frame (only looked for when the transfer is
// PQ or HLG).
type VideoColor struct {
	Transfer  string `json:"color_transfer,omitempty"`  // bt709, smpte2084, arib-std-b67…
	Primaries string `json:"color_primaries,omitempty"` // bt709, bt2020…
	Matrix    string `json:"color_space,omitempty"`     // bt709, bt2020nc…
	Range     string `json:"color_range,omitempty"`     // tv, pc

	// Mastering is the mastering display colour volume (SMPTE ST 2086), nil when
	// the video carries none.
	Mastering *MasteringDisplay `json:"mastering_display,omitempty"`
	// MaxCLL and MaxFALL are the content light levels in cd/m² (CTA-861.3); both 0
	// when the video carries none.
	MaxCLL  int `json:"max_cll,omitempty"`
	MaxFALL int `json:"max_fall,omitempty"`
}

// MasteringDisplay holds chromaticities in CIE 1931 xy and luminances in cd/m².
type MasteringDisplay struct {
	Red, Green, Blue, White [2]float64
	MaxLuminance            float64
	MinLuminance            float64
}

// HDR reports whether the transfer is PQ or HLG.
func (c VideoColor) HDR() bool { return c.Transfer == TransferPQ || c.Transfer == TransferHLG }

// X265 formats the mastering display as x265's master-display parameter:
// G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min), chromaticities in 0.00002 steps and
// luminance in 0.0001 cd/m² steps.
func (m MasteringDisplay) X265() string {
	c := func(p [2]float64) string {
		return fmt.Sprintf("%d,%d", int64(math.Round(p[0]*50000)), int64(math.Round(p[1]*50000)))
	}
	return fmt.Sprintf("G(%s)B(%s)R(%s)WP(%s)L(%d,%d)", c(m.Green), c(m.Blue), c(m.Red), c(m.White),
		int64(math.Round(m.MaxLuminance*10000)), int64(math.Round(m.MinLuminance*10000)))
}

// probeFrameSideData is one entry of ffprobe's frame side_data_list.
type probeFrameSideData struct {
	Type       string `json:"side_data_type"`
	RedX       string `json:"red_x"`
	RedY       string `json:"red_y"`
	GreenX     string `json:"green_x"`
	GreenY     string `json:"green_y"`
	BlueX      string `json:"blue_x"`
	BlueY      string `json:"blue_y"`
	WhiteX     string `json:"white_point_x"`
	WhiteY     string `json:"white_point_y"`
	MinLum     string `json:"min_luminance"`
	MaxLum     string `json:"max_luminance"`
	MaxContent int    `json:"max_content"`
	MaxAverage int    `json:"max_average"`
}

// hdrMetadata reads the side data of the first frame of the stream: HEVC and AV1
// carry HDR10 metadata in the bitstream (SEI/OBU), where only decoding the first
// frame finds it; MKV and MP4 may also carry it in the stream header, which ffprobe
// attaches to the frame too.
func (c *VideoColor) hdrMetadata(sd []probeFrameSideData) {
	for _, s := range sd {
		switch s.Type {
		case "Mastering display metadata":
			var m MasteringDisplay
			vals := []*float64{&m.Red[0], &m.Red[1], &m.Green[0], &m.Green[1], &m.Blue[0], &m.Blue[1],
				&m.White[0], &m.White[1], &m.MinLuminance, &m.MaxLuminance}
			ok := true
			for i, str := range []string{s.RedX, s.RedY, s.GreenX, s.GreenY, s.BlueX, s.BlueY, s.WhiteX, s.WhiteY, s.MinLum, s.MaxLum} {
				v, good := parseRatio(str)
				ok = ok && good
				*vals[i] = v
			}
			if ok && m.MaxLuminance > 0 {
				c.Mastering = &m
			}
		case "Content light level metadata":
			c.MaxCLL, c.MaxFALL = s.MaxContent, s.MaxAverage
		}
	}
}

// parseRatio parses "34000/50000" (or a plain number), allowing 0.
func parseRatio(s string) (float64, bool) {
	num, den, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		den = "1"
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d <= 0 || n < 0 {
		return 0, false
	}
	return n / d, true
}

// probeHDRMetadata decodes the first frame of the stream to read its HDR side data.
func probeHDRMetadata(ctx context.Context, container, path string, stream int, c *VideoColor) error {
	out, err := probeRun(ctx, container, path, "-select_streams", strconv.Itoa(stream), "-read_intervals", "%+#1",
		"-show_frames", "-show_entries", "frame=side_data_list")
	if err != nil {
		return err
	}
	var doc struct {
		Frames []struct {
			SideData []probeFrameSideData `json:"side_data_list"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("probe: ffprobe printed JSON that does not parse: %w", err)
	}
	if len(doc.Frames) > 0 {
		c.hdrMetadata(doc.Frames[0].SideData)
	}
	return nil
}

// normHDRMode returns the mode with the default applied.
func normHDRMode(mode string) (string, error) {
	switch mode {
	case "", HDRToneMap:
		return HDRToneMap, nil
	case HDRKeep:
		return HDRKeep, nil
	}
	return "", errcode.New(errcode.InvalidRequest, "video HDR mode %q is not one of %s, %s", mode, HDRToneMap, HDRKeep)
}

// zimgTransfer and zimgPrimaries name ffprobe's colour values as zscale spells them.
func zimgTransfer(t string) string {
	if t == TransferHLG {
		return "arib-std-b67"
	}
	return "smpte2084"
}

// hdrDecodeFilter is the filter graph, ending in rgb24 at w×h, that the Decoder
// runs for an HDR video, or "" for SDR (whose decoding is unchanged).
//
// tonemap: zscale linearises (PQ or HLG, nominal peak 100 cd/m², so SDR reference
// white lands at 1.0), converts BT.2020 to BT.709 primaries in float RGB, applies
// the tonemap filter's Hable curve without desaturation, then re-encodes BT.709
// gamma, 8-bit full-range RGB. The source's own tags are given to zscale explicitly
// (tin/pin/min), so a stream whose frames lack them is still read as probed.
//
// keep: only the matrix is undone (BT.2020 non-constant luminance, limited range),
// leaving the PQ/HLG-coded BT.2020 RGB values, which the Encoder turns back into the
// same YUV. An exact HDR→SDR→HDR round trip is impossible in 8 bits (highlights above
// SDR white would be clipped or tone-compressed), so keep works in the HDR signal.
func hdrDecodeFilter(c VideoColor, mode string, w, h int) string {
	if !c.HDR() {
		return ""
	}
	size := fmt.Sprintf("%d:%d", w, h)
	if mode == HDRKeep {
		return "scale=" + size + ":in_color_matrix=bt2020:in_range=tv:flags=bicubic,format=rgb24"
	}
	return "zscale=w=" + strings.ReplaceAll(size, ":", ":h=") +
		":tin=" + zimgTransfer(c.Transfer) + ":pin=bt2020:min=2020_ncl:rin=limited:t=linear:npl=100,format=gbrpf32le," +
		"zscale=p=bt709,tonemap=tonemap=hable:desat=0," +
		"zscale=t=bt709:m=bt709:r=full,format=gbrp,format=rgb24"
}

// hdrEncodeArgs returns the encoder, pixel-format and tag arguments for keeping an
// HDR video (mode keep), replacing the SDR ones; nil when the output is SDR.
func hdrEncodeArgs(c VideoColor, mode string, quality int, container string) (vf string, args []string) {
	if !c.HDR() || mode != HDRKeep {
		return "", nil
	}
	primaries, matrix := "bt2020", "bt2020nc"
	params := []string{"log-level=error", "colorprim=" + primaries, "transfer=" + c.Transfer, "colormatrix=" + matrix, "range=limited"}
	if c.Transfer == TransferPQ {
		params = append(params, "hdr10=1")
	}
	if c.Mastering != nil {
		params = append(params, "master-display="+c.Mastering.X265())
	}
	if c.MaxCLL > 0 || c.MaxFALL > 0 {
		params = append(params, fmt.Sprintf("max-cll=%d,%d", c.MaxCLL, c.MaxFALL))
	}
	crf := fmt.Sprint(int(math.Round(51 - 0.51*float64(quality))))
	args = []string{"-c:v", EncoderX265, "-profile:v", "main10", "-crf", crf, "-preset", "veryfast",
		"-x265-params", strings.Join(params, ":")}
	if container == ContainerMP4 || container == ContainerMOV {
		args = append(args, "-tag:v", "hvc1")
	}
	args = append(args, "-pix_fmt", "yuv420p10le",
		"-colorspace", matrix, "-color_primaries", primaries, "-color_trc", c.Transfer, "-color_range", "tv")
	return "scale=out_color_matrix=bt2020:out_range=tv", args
}

var videoFiltersCache sync.Map // ffmpeg path → map[string]bool

// HasFilter reports whether the configured ffmpeg has the named filter (from
// `ffmpeg -filters`, cached per ffmpeg path).
func HasFilter(ctx context.Context, name string) (bool, error) {
	bin := FFmpegPath()
	if v, ok := videoFiltersCache.Load(bin); ok {
		return v.(map[string]bool)[name], nil
	}
	out, err := exec.CommandContext(ctx, bin, "-hide_banner", "-filters").Output()
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, videoStartErr(bin, err)
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && strings.Contains(f[2], "->") {
			have[f[1]] = true
		}
	}
	videoFiltersCache.Store(bin, have)
	return have[name], nil
}
