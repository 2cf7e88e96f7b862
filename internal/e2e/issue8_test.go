package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/draw"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
)

// submitJSON submits a swap of source into target (raw bytes, sent as base64) with
// options and returns the job id.
func submitJSON(t *testing.T, source, target []byte, options map[string]any) string {
	t.Helper()
	body := map[string]any{
		"source": map[string]string{"base64": base64.StdEncoding.EncodeToString(source)},
		"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(target)},
	}
	if options != nil {
		body["options"] = options
	}
	var c created
	if resp := st.postJSON(t, "/v1/jobs", body, &c); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %d %s", resp.StatusCode, bodyOf(resp))
	}
	return c.ID
}

func bodyOf(resp *http.Response) string {
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// failsAtOnce waits for job id to fail and checks its code and that it was not retried.
func failsAtOnce(t *testing.T, id, code string) *jobs.Job {
	t.Helper()
	j := st.waitStatus(t, id, jobs.Failed)
	if j.Error == nil || j.Error.Code != code || j.Attempts != 1 {
		t.Fatalf("job %s: error %+v after %d attempts, want %s after 1", id, j.Error, j.Attempts, code)
	}
	return j
}

// An index beyond the faces of the image is a face the image does not have, not a
// malformed request: NO_FACE_IN_TARGET (or _SOURCE), at once.
func TestFaceIndexBeyondFaces(t *testing.T) {
	src, tgt := readFile(t, "faces/astronaut.png"), readFile(t, "faces/grace_hopper.jpg")
	j := failsAtOnce(t, submitJSON(t, src, tgt, map[string]any{"target_indexes": []int{200}}), "NO_FACE_IN_TARGET")
	if !strings.Contains(j.Error.Message, "200") {
		t.Errorf("message %q does not name the index", j.Error.Message)
	}
	failsAtOnce(t, submitJSON(t, src, tgt, map[string]any{"target_indexes": []int{0, 1}}), "NO_FACE_IN_TARGET")
	failsAtOnce(t, submitJSON(t, src, tgt, map[string]any{"source_indexes": []int{3}}), "NO_FACE_IN_SOURCE")
	// In range: the same request with index 0 succeeds.
	st.waitStatus(t, submitJSON(t, src, tgt, map[string]any{"target_indexes": []int{0}}), jobs.Succeeded)
}

// A URL input whose host does not exist (.invalid never resolves, RFC 6761), or
// whose server answers 4xx, fails at once with FETCH_FAILED.
func TestURLInputFailsForGood(t *testing.T) {
	face := base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone.jpg":
			http.Error(w, "gone", http.StatusNotFound)
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{"http://swapd-e2e-no-such-host.invalid/face.jpg", local + "/gone.jpg", local + "/private.jpg"} {
		var c created
		if resp := st.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"url": u}, "target": map[string]string{"base64": face},
		}, &c); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: submit %d", u, resp.StatusCode)
		}
		j := failsAtOnce(t, c.ID, "FETCH_FAILED")
		if !strings.Contains(j.Error.Message, strings.SplitN(u, "/", 4)[2]) {
			t.Errorf("%s: message %q does not name the source", u, j.Error.Message)
		}
	}
}

// A video cut to 40% of its bytes (a partial upload) decodes its first part only. The
// job still succeeds with what is there, but says so: frames decoded, frames the
// header announced, truncated. The whole video is not flagged.
func TestTruncatedVideoIsReported(t *testing.T) {
	dir := t.TempDir()
	whole := readFile(t, "video/five_people_640x480.mp4")
	src := filepath.Join(dir, "src.mp4")
	if err := os.WriteFile(src, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	// MP4 with its index first (+faststart, announces nb_frames) and Matroska (announces
	// a duration); cut with the index kept, both still decode partially.
	fast, mkv := filepath.Join(dir, "fast.mp4"), filepath.Join(dir, "v.mkv")
	ffmpeg(t, "-i", src, "-c", "copy", "-movflags", "+faststart", fast)
	ffmpeg(t, "-i", src, "-c", "copy", mkv)
	for _, path := range []string{fast, mkv} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		j := st.waitStatus(t, submitVideo(t, b[:len(b)*40/100], ""), jobs.Succeeded)
		o := j.Output
		if o.Frames == 0 || o.Frames > 60 || o.FramesExpected < 89 || o.FramesExpected > 92 || !o.Truncated {
			t.Errorf("%s cut to 40%%: output %+v, want a few dozen frames of ~90 expected, truncated", filepath.Ext(path), o)
		}
		if n := frameCount(t, download(t, j)); n != o.Frames {
			t.Errorf("%s cut: output file has %d frames, record says %d", filepath.Ext(path), n, o.Frames)
		}
	}
	j := st.waitStatus(t, submitVideo(t, whole, ""), jobs.Succeeded)
	if o := j.Output; o.Frames != 90 || o.FramesExpected != 90 || o.Truncated {
		t.Errorf("whole video: output %+v, want 90 of 90 frames, not truncated", o)
	}
}

// jpegWithOrientation encodes img (the pixels as stored) as a JPEG carrying an Exif
// APP1 segment with the given orientation, as a phone writes it.
func jpegWithOrientation(t *testing.T, img image.Image, orientation int) []byte {
	t.Helper()
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// TIFF header (big-endian), IFD0 with one entry: 0x0112 SHORT 1 = orientation.
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(orientation), 0, 0, 0, 0, 0, 0}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
	jpg := enc.Bytes()
	out := append(append(append([]byte{}, jpg[:2]...), app1...), seg...)
	return append(out, jpg[2:]...)
}

// turn returns img turned 90° clockwise (cw) or counter-clockwise.
func turn(img image.Image, cw bool) *image.RGBA {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if cw { // (x, y) goes to (h-1-y, x)
				out.Set(h-1-y, x, src.At(x, y))
			} else { // (x, y) goes to (y, w-1-x)
				out.Set(y, w-1-x, src.At(x, y))
			}
		}
	}
	return out
}

// A phone's portrait photo is stored on its side with EXIF orientation 6 (turn 90°
// clockwise to view) or 8 (counter-clockwise). Used as target and as source, it is
// swapped like the upright photo, and the output is upright: the target's upright
// size, its background untouched, the face changed.
func TestEXIFRotatedPhotos(t *testing.T) {
	upright := decodeImage(t, readFile(t, "faces/grace_hopper.jpg")) // 512x600
	face := decodeImage(t, readFile(t, "faces/astronaut.png"))
	for _, o := range []int{6, 8} {
		// Orientation 6 shows the stored pixels turned clockwise: store them turned
		// counter-clockwise. 8 is the other way round.
		target := jpegWithOrientation(t, turn(upright, o == 8), o)
		source := jpegWithOrientation(t, turn(face, o == 8), o)
		if img := decodeImage(t, target); img.Bounds().Dx() != 600 || img.Bounds().Dy() != 512 {
			t.Fatalf("test target is stored %v, want landscape 600x512", img.Bounds())
		}
		id := submitJSON(t, source, target, map[string]any{"output_format": "png"})
		j := st.waitStatus(t, id, jobs.Succeeded, jobs.Failed)
		if j.Status != jobs.Succeeded || j.Output.Faces != 1 {
			t.Fatalf("orientation %d: job %s %+v output %+v", o, j.Status, j.Error, j.Output)
		}
		// The reference: the submitted JPEG's own pixels, turned upright here.
		want := turn(decodeImage(t, target), o == 6)
		checkSwapped(t, want, decodeImage(t, fetchOutput(t, j)), graceFace)
	}
}
