package media

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The HDR tests make their own HDR clips with ffmpeg: testsrc2 (an SDR BT.709 test
// pattern with colour bars, gradients and a moving patch) converted by zscale to
// BT.2020 PQ or HLG, with SDR reference white at 203 cd/m² (ITU-R BT.2408), encoded
// as 10-bit HEVC with HDR10 metadata.

const (
	hdrTestMaster = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
	hdrTestW      = 320
	hdrTestH      = 240
)

// hdrClip writes a 10-frame 320x240 HDR clip: transfer "smpte2084" (with
// mastering-display and content-light metadata when meta) or "arib-std-b67".
func hdrClip(t *testing.T, transfer string, meta bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hdr-"+transfer+".mp4")
	params := "log-level=error:colorprim=bt2020:transfer=" + transfer + ":colormatrix=bt2020nc"
	if meta {
		params += ":hdr10=1:master-display=" + hdrTestMaster + ":max-cll=1000,400"
	}
	vtFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=1",
		"-vf", "zscale=tin=bt709:min=bt709:pin=bt709:rin=limited:t="+transfer+":m=2020_ncl:p=bt2020:npl=203,format=yuv420p10le",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params,
		"-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc", "-tag:v", "hvc1", out)
	return out
}

// hdrRaw runs ffmpeg on in with the filter graph vf and returns the first frame as
// rgb24 (an independent reference, not through the Decoder).
func hdrRaw(t *testing.T, in, vf string) Frame {
	t.Helper()
	args := []string{"-nostdin", "-v", "error", "-i", in, "-frames:v", "1"}
	if vf != "" {
		args = append(args, "-vf", vf)
	}
	args = append(args, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1")
	out, err := exec.Command(FFmpegPath(), args...).Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v", args, err)
	}
	if len(out) != hdrTestW*hdrTestH*3 {
		t.Fatalf("reference frame has %d bytes", len(out))
	}
	return Frame{Width: hdrTestW, Height: hdrTestH, Pix: out}
}

// hdrFirstFrame decodes the first frame of path with the Decoder in mode.
func hdrFirstFrame(t *testing.T, path, mode string) Frame {
	t.Helper()
	info := vtProbe(t, path)
	d, err := NewDecoderHDR(context.Background(), path, info, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var f Frame
	if err := d.Next(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

// hdrTranscode decodes in and encodes every frame to out, both in mode.
func hdrTranscode(t *testing.T, in, out, mode string) {
	t.Helper()
	ctx := context.Background()
	info := vtProbe(t, in)
	d, err := NewDecoderHDR(ctx, in, info, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e, err := NewEncoder(ctx, out, info, EncodeOptions{HDR: mode}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	var f Frame
	for {
		err := d.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// hdrStream is what ffprobe says of a file's first video stream.
type hdrStream struct {
	CodecName string `json:"codec_name"`
	Profile   string `json:"profile"`
	PixFmt    string `json:"pix_fmt"`
	Transfer  string `json:"color_transfer"`
	Primaries string `json:"color_primaries"`
	Space     string `json:"color_space"`
}

func hdrProbeStream(t *testing.T, path string) hdrStream {
	t.Helper()
	out, err := exec.Command(FFprobePath(), "-v", "error", "-print_format", "json", "-select_streams", "v:0", "-show_streams", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Streams []hdrStream }
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	return doc.Streams[0]
}

// lumaMean and lumaStd are the mean and standard deviation of BT.709 luma.
func lumaStats(f Frame) (mean, std float64) {
	n := len(f.Pix) / 3
	var s, s2 float64
	for i := 0; i < n; i++ {
		y := 0.2126*float64(f.Pix[3*i]) + 0.7152*float64(f.Pix[3*i+1]) + 0.0722*float64(f.Pix[3*i+2])
		s += y
		s2 += y * y
	}
	mean = s / float64(n)
	return mean, math.Sqrt(s2/float64(n) - mean*mean)
}

func TestProbeHDR(t *testing.T) {
	vtRequireFFmpeg(t)
	pq := vtProbe(t, hdrClip(t, TransferPQ, true))
	c := pq.Color
	if !c.HDR() || c.Transfer != "smpte2084" || c.Primaries != "bt2020" || c.Matrix != "bt2020nc" {
		t.Fatalf("PQ clip: color %+v, want HDR smpte2084/bt2020/bt2020nc", c)
	}
	if c.Mastering == nil {
		t.Fatal("PQ clip: no mastering display found")
	}
	if got := c.Mastering.X265(); got != hdrTestMaster {
		t.Errorf("mastering display %s, want %s", got, hdrTestMaster)
	}
	if c.Mastering.MaxLuminance != 1000 || c.Mastering.MinLuminance != 0.005 || c.Mastering.Green != [2]float64{0.265, 0.69} {
		t.Errorf("mastering display %+v", *c.Mastering)
	}
	if c.MaxCLL != 1000 || c.MaxFALL != 400 {
		t.Errorf("content light %d/%d, want 1000/400", c.MaxCLL, c.MaxFALL)
	}

	hlg := vtProbe(t, hdrClip(t, TransferHLG, false)).Color
	if !hlg.HDR() || hlg.Transfer != "arib-std-b67" || hlg.Primaries != "bt2020" {
		t.Errorf("HLG clip: color %+v", hlg)
	}
	if hlg.Mastering != nil || hlg.MaxCLL != 0 {
		t.Errorf("HLG clip without metadata: mastering %+v, max-cll %d", hlg.Mastering, hlg.MaxCLL)
	}

	sdr := vtProbe(t, vtSampleVideo(t)).Color
	if sdr.HDR() || sdr.Mastering != nil {
		t.Errorf("SDR sample: color %+v reported as HDR", sdr)
	}
}

// TestDecoderToneMapsHDR: by default a PQ clip is tone-mapped while decoding, to
// what a plain ffmpeg zscale+tonemap(hable) conversion gives, and not passed through
// as PQ-coded values (which look washed out: black lifted, contrast flattened).
func TestDecoderToneMapsHDR(t *testing.T) {
	vtRequireFFmpeg(t)
	for _, transfer := range []string{TransferPQ, TransferHLG} {
		t.Run(transfer, func(t *testing.T) {
			clip := hdrClip(t, transfer, transfer == TransferPQ)
			got := hdrFirstFrame(t, clip, "")
			ref := hdrRaw(t, clip, "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv444p")
			naive := hdrRaw(t, clip, "") // no tone-mapping: PQ/HLG values shown as if BT.709
			dRef, dNaive := vtMeanAbsDiff(got, ref), vtMeanAbsDiff(naive, ref)
			t.Logf("mean abs diff to the zscale+tonemap reference: decoder %.2f, pass-through %.2f", dRef, dNaive)
			if dRef > 1.5 {
				t.Errorf("tone-mapped frame differs from the reference by %.2f per byte (want ≤ 1.5)", dRef)
			}
			if dNaive < 4*dRef+6 {
				t.Errorf("check too weak: pass-through differs from the reference by only %.2f", dNaive)
			}
			_, stdGot := lumaStats(got)
			_, stdNaive := lumaStats(naive)
			if transfer == TransferPQ && stdGot < 1.2*stdNaive {
				t.Errorf("luma contrast %.1f not above the washed-out pass-through's %.1f", stdGot, stdNaive)
			}
		})
	}
}

// TestEncoderHDRToneMap: the default output of an HDR input is 8-bit yuv420p H.264
// tagged BT.709 in all three colour fields.
func TestEncoderHDRToneMap(t *testing.T) {
	vtRequireFFmpeg(t)
	clip := hdrClip(t, TransferPQ, true)
	out := filepath.Join(t.TempDir(), "sdr.mp4")
	hdrTranscode(t, clip, out, HDRToneMap)
	s := hdrProbeStream(t, out)
	if s.CodecName != "h264" || s.PixFmt != "yuv420p" || s.Transfer != "bt709" || s.Primaries != "bt709" || s.Space != "bt709" {
		t.Errorf("tone-mapped output %+v, want h264 yuv420p tagged bt709", s)
	}
	info := vtProbe(t, out)
	if info.Color.HDR() || info.Color.Mastering != nil {
		t.Errorf("tone-mapped output probes as %+v", info.Color)
	}
	// The output's pixels are the tone-mapped ones, not the PQ-coded ones.
	ref := hdrRaw(t, clip, "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv444p")
	if d := vtMeanAbsDiff(hdrRaw(t, out, ""), ref); d > 4 {
		t.Errorf("tone-mapped output differs from the reference by %.2f per byte", d)
	}
}

// TestEncoderHDRKeep: with keep the output is HEVC Main 10, yuv420p10le, tagged
// with the input's transfer and BT.2020, with its mastering metadata when it had
// some, and its pixels are the input's (the matrix round trip is exact but for
// compression).
func TestEncoderHDRKeep(t *testing.T) {
	vtRequireFFmpeg(t)
	for _, tc := range []struct {
		transfer string
		meta     bool
	}{{TransferPQ, true}, {TransferHLG, false}, {TransferPQ, false}} {
		name := tc.transfer
		if !tc.meta {
			name += "-nometa"
		}
		t.Run(name, func(t *testing.T) {
			clip := hdrClip(t, tc.transfer, tc.meta)
			out := filepath.Join(t.TempDir(), "keep.mp4")
			hdrTranscode(t, clip, out, HDRKeep)
			s := hdrProbeStream(t, out)
			if s.CodecName != "hevc" || s.Profile != "Main 10" || s.PixFmt != "yuv420p10le" ||
				s.Transfer != tc.transfer || s.Primaries != "bt2020" || s.Space != "bt2020nc" {
				t.Errorf("kept output %+v, want hevc Main 10 yuv420p10le %s/bt2020/bt2020nc", s, tc.transfer)
			}
			c := vtProbe(t, out).Color
			switch {
			case tc.meta && c.Mastering == nil:
				t.Error("mastering display lost")
			case tc.meta && c.Mastering.X265() != hdrTestMaster:
				t.Errorf("mastering display %s, want %s", c.Mastering.X265(), hdrTestMaster)
			case tc.meta && (c.MaxCLL != 1000 || c.MaxFALL != 400):
				t.Errorf("content light %d/%d, want 1000/400", c.MaxCLL, c.MaxFALL)
			case !tc.meta && (c.Mastering != nil || c.MaxCLL != 0):
				t.Errorf("metadata invented: %+v", c)
			}
			in, kept := hdrFirstFrame(t, clip, HDRKeep), hdrFirstFrame(t, out, HDRKeep)
			if d := vtMeanAbsDiff(in, kept); d > 2.5 {
				t.Errorf("kept frame differs from the input by %.2f per byte", d)
			}
			if d := vtMeanAbsDiff(kept, hdrFirstFrame(t, clip, HDRToneMap)); d < 5 {
				t.Errorf("kept frame is within %.2f of the tone-mapped one", d)
			}
		})
	}
}

// TestHDRModesLeaveSDRAlone: an SDR video decodes to the same bytes and encodes to
// the same kind of file in both modes.
func TestHDRModesLeaveSDRAlone(t *testing.T) {
	vtRequireFFmpeg(t)
	in := vtSampleVideo(t)
	a, b, c := hdrFirstFrameSDR(t, in, ""), hdrFirstFrameSDR(t, in, HDRKeep), hdrFirstFrameSDR(t, in, HDRToneMap)
	if vtMeanAbsDiff(a, b) != 0 || vtMeanAbsDiff(a, c) != 0 {
		t.Error("an HDR mode changed the decoding of an SDR video")
	}
	out := filepath.Join(t.TempDir(), "keep.mp4")
	vtTranscodeN(t, in, out, EncodeOptions{HDR: HDRKeep}, 5)
	s := hdrProbeStream(t, out)
	if s.CodecName != "h264" || s.PixFmt != "yuv420p" || s.Transfer != "bt709" {
		t.Errorf("SDR input with keep gave %+v, want h264 yuv420p bt709", s)
	}
	if _, err := NewDecoderHDR(context.Background(), in, vtProbe(t, in), "hdr10"); err == nil || !strings.Contains(err.Error(), "hdr10") {
		t.Errorf("unknown mode: %v", err)
	}
}

func hdrFirstFrameSDR(t *testing.T, path, mode string) Frame {
	t.Helper()
	info := vtProbe(t, path)
	d, err := NewDecoderHDR(context.Background(), path, info, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var f Frame
	if err := d.Next(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

// vtTranscodeN encodes the first n frames of in to out.
func vtTranscodeN(t *testing.T, in, out string, opts EncodeOptions, n int) {
	t.Helper()
	ctx := context.Background()
	info := vtProbe(t, in)
	d, err := NewDecoderHDR(ctx, in, info, opts.HDR)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e, err := NewEncoder(ctx, out, info, opts, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	var f Frame
	for i := 0; i < n; i++ {
		if err := d.Next(&f); err != nil {
			t.Fatal(err)
		}
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
