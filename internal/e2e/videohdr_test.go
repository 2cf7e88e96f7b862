package e2e

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

const hdrMaster = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"

// hdrFirstFrameRGB returns the first frame of path as rgb24, through the filter vf
// ("" for none): an ffmpeg reference, independent of swapd's Decoder.
func hdrFirstFrameRGB(t *testing.T, path, vf string) media.Frame {
	t.Helper()
	args := []string{"-nostdin", "-v", "error", "-i", path, "-frames:v", "1"}
	if vf != "" {
		args = append(args, "-vf", vf)
	}
	out, err := exec.Command(media.FFmpegPath(), append(args, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1")...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return media.Frame{Width: 640, Height: 480, Pix: out}
}

// TestVideoHDR: a PQ (HDR10) target is swapped and, by default, comes out as 8-bit
// BT.709 SDR tone-mapped like ffmpeg's zscale+tonemap, not washed out; with
// video_hdr keep it comes out as HEVC Main 10 with its tags and HDR10 metadata.
func TestVideoHDR(t *testing.T) {
	in := filepath.Join(t.TempDir(), "hdr.mp4")
	ffmpeg(t, "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"), "-t", "1", "-an",
		"-vf", "zscale=tin=bt709:min=bt709:pin=bt709:rin=limited:t=smpte2084:m=2020_ncl:p=bt2020:npl=203,format=yuv420p10le",
		"-c:v", "libx265", "-preset", "ultrafast", "-crf", "12",
		"-x265-params", "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:master-display="+hdrMaster+":max-cll=1000,400",
		"-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", "-tag:v", "hvc1", in)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("tonemap", func(t *testing.T) {
		j := st.waitStatus(t, submitVideo(t, data, `{"face_selector":"many"}`), jobs.Succeeded)
		if j.Output.Faces == 0 {
			t.Fatalf("no face swapped: %+v", j.Output)
		}
		out := download(t, j)
		info, err := media.Probe(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Color
		if info.Codec != "h264" || info.PixFmt != "yuv420p" || c.Transfer != "bt709" || c.Primaries != "bt709" || c.Matrix != "bt709" || c.Mastering != nil {
			t.Fatalf("output %s %s %+v, want h264 yuv420p tagged bt709", info.Codec, info.PixFmt, c)
		}
		ref := hdrFirstFrameRGB(t, in, "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv444p")
		naive := hdrFirstFrameRGB(t, in, "")
		got := hdrFirstFrameRGB(t, out, "")
		// The swapped faces differ from both references, so compare the whole
		// frame's luma statistics: the swap hardly moves them, a washed-out
		// (untone-mapped) frame moves them a lot.
		gm, gs := hdrLuma(got)
		rm, rs := hdrLuma(ref)
		nm, ns := hdrLuma(naive)
		t.Logf("mean/std luma: output %.1f/%.1f, tone-mapped reference %.1f/%.1f, pass-through %.1f/%.1f; mean abs diff to reference %.2f, to pass-through %.2f",
			gm, gs, rm, rs, nm, ns, meanDiff(got, ref), meanDiff(got, naive))
		if math.Abs(gm-rm) > 3 || math.Abs(gs-rs) > 3 {
			t.Errorf("output luma %.1f±%.1f is not the tone-mapped reference's %.1f±%.1f", gm, gs, rm, rs)
		}
		if math.Abs(nm-rm) < 3*math.Abs(gm-rm)+6 && math.Abs(ns-rs) < 3*math.Abs(gs-rs)+6 {
			t.Errorf("check too weak: the pass-through %.1f±%.1f is close to the reference", nm, ns)
		}
		if d := meanDiff(got, ref); d > meanDiff(got, naive) {
			t.Errorf("output is closer to the washed-out pass-through than to the tone-mapped reference")
		}
	})

	t.Run("keep", func(t *testing.T) {
		j := st.waitStatus(t, submitVideo(t, data, `{"face_selector":"many","video_hdr":"keep"}`), jobs.Succeeded)
		if j.Output.Faces == 0 {
			t.Fatalf("no face swapped: %+v", j.Output)
		}
		out := download(t, j)
		info, err := media.Probe(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Color
		if info.Codec != "hevc" || info.PixFmt != "yuv420p10le" || c.Transfer != "smpte2084" || c.Primaries != "bt2020" || c.Matrix != "bt2020nc" {
			t.Fatalf("output %s %s %+v, want hevc yuv420p10le smpte2084/bt2020/bt2020nc", info.Codec, info.PixFmt, c)
		}
		if c.Mastering == nil || c.Mastering.X265() != hdrMaster || c.MaxCLL != 1000 || c.MaxFALL != 400 {
			t.Fatalf("HDR10 metadata not kept: %+v mastering %+v", c, c.Mastering)
		}
		if got, want := frameCount(t, out), frameCount(t, in); got != want {
			t.Fatalf("frames %d, want %d", got, want)
		}
	})

	t.Run("bad option", func(t *testing.T) {
		ct, body := multipartBody(t, [][2]string{{"options", `{"video_hdr":"hdr10"}`}},
			map[string][][]byte{"source": {readFile(t, "faces/astronaut.png")}, "target": {data}})
		if resp := st.do(t, "POST", "/v1/jobs", ct, body, nil); resp.StatusCode != 400 {
			t.Fatalf("video_hdr hdr10: %d, want 400", resp.StatusCode)
		}
	})
}

// hdrLuma is the mean and standard deviation of a frame's BT.709 luma.
func hdrLuma(f media.Frame) (mean, std float64) {
	n := len(f.Pix) / 3
	var s, s2 float64
	for i := 0; i < n; i++ {
		y := 0.2126*float64(f.Pix[3*i]) + 0.7152*float64(f.Pix[3*i+1]) + 0.0722*float64(f.Pix[3*i+2])
		s, s2 = s+y, s2+y*y
	}
	mean = s / float64(n)
	return mean, math.Sqrt(s2/float64(n) - mean*mean)
}
