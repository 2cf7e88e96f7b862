package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(media.FFmpegPath(), append([]string{"-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// audioMD5 is the checksum of the first audio stream's packets, as stored.
func audioMD5(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(media.FFmpegPath(), "-v", "error", "-i", path, "-map", "0:a:0", "-c", "copy", "-f", "md5", "-").Output()
	if err != nil {
		t.Fatalf("audio md5 of %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

func frameCount(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command(media.FFprobePath(), "-v", "error", "-select_streams", "v:0", "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// decodeAll returns every frame of a video.
func decodeAll(t *testing.T, path string) []media.Frame {
	t.Helper()
	ctx := context.Background()
	info, err := media.Probe(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := media.NewDecoder(ctx, path, info)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var frames []media.Frame
	for {
		var f media.Frame
		if err := dec.Next(&f); err == io.EOF {
			return frames
		} else if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
}

func meanDiff(a, b media.Frame) float64 {
	var sum float64
	for i := range a.Pix {
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return sum / float64(len(a.Pix))
}

func submitVideo(t *testing.T, target []byte, opts string) string {
	t.Helper()
	parts := [][2]string{}
	if opts != "" {
		parts = append(parts, [2]string{"options", opts})
	}
	ct, body := multipartBody(t, parts, map[string][][]byte{"source": {readFile(t, "faces/astronaut.png")}, "target": {target}})
	var c created
	if resp := st.do(t, "POST", "/v1/jobs", ct, body, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit video: %d", resp.StatusCode)
	}
	return c.ID
}

func download(t *testing.T, j *jobs.Job) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(path, fetchOutput(t, j), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVideoKeepsAudioAndFrames(t *testing.T) {
	dir := t.TempDir()
	// The first 20 frames are painted over: no face there.
	in := filepath.Join(dir, "in.mp4")
	ffmpeg(t, "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"),
		"-vf", "drawbox=enable='lt(n,20)':x=0:y=0:w=iw:h=ih:color=gray:t=fill", "-c:v", "libx264", "-crf", "12", "-c:a", "copy", in)
	data, _ := os.ReadFile(in)
	id := submitVideo(t, data, `{"face_selector":"many"}`)
	j := st.waitStatus(t, id, jobs.Succeeded)
	if j.Kind != jobs.KindVideo || j.Output.ContentType != "video/mp4" || j.Output.NoFace {
		t.Fatalf("job %+v output %+v", j, j.Output)
	}
	want := frameCount(t, in)
	if j.Progress.Total != want || j.Progress.Done != want || j.Output.Frames != want {
		t.Fatalf("progress %v, output frames %d, want %d", j.Progress, j.Output.Frames, want)
	}
	out := download(t, j)
	if got := frameCount(t, out); got != want {
		t.Fatalf("output has %d frames, input %d", got, want)
	}
	if a, b := audioMD5(t, in), audioMD5(t, out); a != b {
		t.Fatalf("audio changed: %s vs %s", a, b)
	}
	src, dst := decodeAll(t, in), decodeAll(t, out)
	for i := 0; i < 20; i += 5 {
		if d := meanDiff(src[i], dst[i]); d > 2 {
			t.Errorf("faceless frame %d changed by %.2f", i, d)
		}
	}
	changed := 0
	for i := 20; i < len(src); i += 10 {
		if meanDiff(src[i], dst[i]) > 2.5 {
			changed++
		}
	}
	if changed < 5 {
		t.Fatalf("only %d sampled face frames changed", changed)
	}
	if j.Output.Faces < 5*(want-20)/2 {
		t.Fatalf("only %d faces swapped over %d face frames", j.Output.Faces, want-20)
	}
}

func TestWebMInMP4Out(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.webm")
	ffmpeg(t, "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"), "-t", "1",
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-c:a", "libopus", in)
	data, _ := os.ReadFile(in)
	id := submitVideo(t, data, "")
	j := st.waitStatus(t, id, jobs.Succeeded)
	out := download(t, j)
	info, err := media.Probe(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Container != media.ContainerMP4 || info.Codec != "h264" || info.PixFmt != "yuv420p" || !info.HasAudio {
		t.Fatalf("output %+v", info)
	}
	if got, want := frameCount(t, out), frameCount(t, in); got != want {
		t.Fatalf("frames %d, want %d", got, want)
	}
}

func TestVideoWithoutFacesSucceedsFlagged(t *testing.T) {
	in := filepath.Join(t.TempDir(), "gray.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25:d=1", "-f", "lavfi", "-i", "sine=d=1",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", in)
	data, _ := os.ReadFile(in)
	j := st.waitStatus(t, submitVideo(t, data, ""), jobs.Succeeded)
	if !j.Output.NoFace || j.Output.Faces != 0 || j.Output.Frames != 25 {
		t.Fatalf("output %+v", j.Output)
	}
}

func TestCancelMidVideo(t *testing.T) {
	in := filepath.Join(t.TempDir(), "long.mp4")
	ffmpeg(t, "-stream_loop", "4", "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"), "-c", "copy", in)
	data, _ := os.ReadFile(in)
	id := submitVideo(t, data, `{"face_selector":"many"}`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := st.get(t, id)
		if j.Status == jobs.Running && j.Progress.Done > 0 {
			break
		}
		if j.Status.Terminal() || time.Now().After(deadline) {
			t.Fatalf("never saw progress: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var j jobs.Job
	if resp := st.do(t, "POST", "/v1/jobs/"+id+"/cancel", "", nil, &j); resp.StatusCode != 200 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	time.Sleep(2 * time.Second) // the worker stops within a step and must leave nothing
	final := st.get(t, id)
	if final.Status != jobs.Canceled || final.Output != nil || final.Progress.Done >= final.Progress.Total {
		t.Fatalf("after cancel: %+v", final)
	}
	if _, err := st.store(t).Stat(context.Background(), "jobs/"+id+"/output.mp4"); err == nil {
		t.Fatal("a partial output was uploaded")
	}
	// The worker is free again: a probe goes through.
	st.waitStatus(t, probe(t, st, ""), jobs.Succeeded)
}

func TestVideoLimits(t *testing.T) {
	in := filepath.Join(t.TempDir(), "big.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=1600x1200:r=5:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", in)
	data, _ := os.ReadFile(in)
	j := st.waitStatus(t, submitVideo(t, data, ""), jobs.Failed)
	if j.Error == nil || j.Error.Code != "VIDEO_RESOLUTION_TOO_LARGE" || j.Attempts != 1 {
		t.Fatalf("error %+v", j.Error)
	}
}

func TestReferenceModeKeepsOnlyTheMatchingPerson(t *testing.T) {
	group := readFile(t, "faces/group_test3.jpg")
	img := decodeImage(t, group)
	// The reference is one person of the group: the face at reference_face_position 0
	// in left-right order, given as a crop of the same photo.
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(group)},
		"options": map[string]any{"face_selector": "reference", "face_order": "left-right", "reference_face_position": 0, "output_format": "png"},
	}, &c)
	j := st.waitStatus(t, c.ID, jobs.Succeeded)
	if j.Output.Faces != 1 {
		t.Fatalf("reference mode swapped %d faces, want exactly the one matching person", j.Output.Faces)
	}
	out := decodeImage(t, fetchOutput(t, j))
	if out.Bounds() != img.Bounds() {
		t.Fatal("size changed")
	}
	var many created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(group)},
		"options": map[string]any{"face_selector": "many"},
	}, &many)
	if jm := st.waitStatus(t, many.ID, jobs.Succeeded); jm.Output.Faces <= 1 {
		t.Fatalf("many swapped %d faces; the group has several", jm.Output.Faces)
	}
}
