package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/webhook"
)

var st *stack.Stack

func TestMain(m *testing.M) {
	s, err := stack.Start(nil, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

func swapctl(t *testing.T, args ...string) (code int, stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"SWAPD_URL": st.URL, "SWAPD_API_KEY": st.Key, "SWAPD_WEBHOOK_SECRET": st.Secret.String()}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, err = run(ctx, args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String(), err
}

func fixture(name string) string { return filepath.Join(stack.Testdata(), name) }

func TestSwapImageToFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "result.png")
	code, _, stderr, err := swapctl(t, "swap", "--source", fixture("faces/astronaut.png"), "--target", fixture("faces/grace_hopper.jpg"),
		"-options", `{"output_format":"png"}`, "--mouth-mask", "-o", out)
	if code != exitOK || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 512 {
		t.Fatalf("result is not the swapped PNG: %v", err)
	}
	if !strings.Contains(stderr, "(1 face swapped)") {
		t.Fatalf("stderr: %s", stderr)
	}
}

func TestSwapVideoToFile(t *testing.T) {
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	if out, err := exec.Command(media.FFmpegPath(), "-v", "error", "-i", fixture("video/five_people_640x480.mp4"), "-t", "1", "-c", "copy", clip).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out := filepath.Join(t.TempDir(), "out.mp4")
	code, _, stderr, err := swapctl(t, "swap", "-source", fixture("faces/astronaut.png"), "-target", clip, "-many", "-o", out)
	if code != exitOK || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	info, err := media.Probe(context.Background(), out)
	if err != nil || info.Frames < 25 || info.Width != 640 {
		t.Fatalf("output %+v %v", info, err)
	}
	if !strings.Contains(stderr, "frames") || !strings.Contains(stderr, "uploading") {
		t.Fatalf("no progress for upload and frames in: %q", stderr)
	}
}

func TestSwapFailureExitsWithServerCode(t *testing.T) {
	gray := filepath.Join(t.TempDir(), "gray.png")
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 200, 200)))
	os.WriteFile(gray, buf.Bytes(), 0o644)
	code, _, _, err := swapctl(t, "swap", "-q", "-source", gray, "-target", fixture("faces/grace_hopper.jpg"), "-o", filepath.Join(t.TempDir(), "x.jpg"))
	if code != exitFailed || err == nil || !strings.Contains(err.Error(), "NO_FACE_IN_SOURCE") {
		t.Fatalf("exit %d, err %v", code, err)
	}
	// Refused at submit: a text file as target.
	txt := filepath.Join(t.TempDir(), "photo.jpg")
	os.WriteFile(txt, []byte("not an image"), 0o644)
	code, _, _, err = swapctl(t, "swap", "-q", "-source", fixture("faces/astronaut.png"), "-target", txt)
	if code != exitFailed || err == nil || !strings.Contains(err.Error(), "UNSUPPORTED_MEDIA") {
		t.Fatalf("exit %d, err %v", code, err)
	}
	if code, _, _, _ := swapctl(t, "swap", "-target", txt); code != exitUsage {
		t.Fatalf("missing -source: exit %d", code)
	}
	wrong := map[string]string{"SWAPD_URL": st.URL, "SWAPD_API_KEY": "wrong"}
	code, err = run(context.Background(), []string{"list"}, func(k string) string { return wrong[k] }, io.Discard, io.Discard)
	if code == exitOK || err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("bad key: exit %d %v", code, err)
	}
}

func TestListStatusCancel(t *testing.T) {
	code, out, _, err := swapctl(t, "list", "-limit", "100")
	if code != exitOK || err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("list: %d %v %q", code, err, out)
	}
	id := strings.Fields(out)[0]
	code, out, _, err = swapctl(t, "status", id)
	if code != exitOK || !strings.Contains(out, `"id": "`+id+`"`) {
		t.Fatalf("status: %d %v %s", code, err, out)
	}
	code, _, _, err = swapctl(t, "cancel", id)
	if code != exitFailed || err == nil || !strings.Contains(err.Error(), "CONFLICT") {
		t.Fatalf("cancel of a finished job: %d %v", code, err)
	}
}

func TestWebhookVerify(t *testing.T) {
	captured := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		r.Write(&buf) // the raw request as a receiver would capture it
		captured <- buf.Bytes()
	}))
	defer srv.Close()
	body := []byte(`{"type":"job.succeeded"}`)
	if _, err := webhook.Deliver(context.Background(), http.DefaultClient, srv.URL, "msg_test", body, st.Secret); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.http")
	raw := <-captured
	os.WriteFile(good, raw, 0o644)
	if code, out, _, err := swapctl(t, "webhook", "verify", "-request", good); code != exitOK || !strings.Contains(out, "msg_test") {
		t.Fatalf("valid capture: %d %v", code, err)
	}
	bad := filepath.Join(dir, "bad.http")
	os.WriteFile(bad, bytes.Replace(raw, []byte("succeeded"), []byte("failed!!!"), 1), 0o644)
	if code, _, _, err := swapctl(t, "webhook", "verify", "-request", bad); code != exitFailed || err == nil {
		t.Fatalf("tampered capture: %d %v", code, err)
	}
}

// swapctl models honours $SWAPD_MODELS_DIR as the default -dir (the help names it),
// and -dir still overrides it.
func TestModelsDirFromEnv(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	models := func(args ...string) (int, string, string, error) {
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			if k == "SWAPD_MODELS_DIR" {
				return envDir
			}
			return ""
		}
		code, err := run(context.Background(), append([]string{"models"}, args...), getenv, &out, &errb)
		return code, out.String(), errb.String(), err
	}
	code, _, help, _ := models("list", "-h")
	if code != exitUsage || !strings.Contains(help, "$SWAPD_MODELS_DIR") || !strings.Contains(help, envDir) {
		t.Fatalf("models -h (exit %d) does not show $SWAPD_MODELS_DIR=%s as the default:\n%s", code, envDir, help)
	}
	_, out, _, _ := models("verify", "inswapper_128")
	if !strings.Contains(out, envDir) {
		t.Fatalf("models verify did not look in $SWAPD_MODELS_DIR %s:\n%s", envDir, out)
	}
	_, out, _, _ = models("verify", "-dir", flagDir, "inswapper_128")
	if !strings.Contains(out, flagDir) || strings.Contains(out, envDir) {
		t.Fatalf("-dir %s did not override $SWAPD_MODELS_DIR:\n%s", flagDir, out)
	}
}

// models list tells a wrong file from a missing one: "checksum mismatch" for a file
// whose CRC32 sidecar disagrees, "unverified" for a file with no checksum to check,
// "missing" only when there is no file.
func TestModelsListStatus(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inswapper_128.onnx"), []byte("not the model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inswapper_128.hash"), []byte("00000000"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gfpgan_1.4.onnx"), []byte("no sidecar"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "SWAPD_MODELS_DIR" {
			return dir
		}
		return ""
	}
	if code, err := run(context.Background(), []string{"models", "list"}, env, &out, &errb); code != exitOK || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, errb.String())
	}
	want := map[string]string{"inswapper_128": "checksum mismatch", "gfpgan_1.4": "unverified", "codeformer": "missing"}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		w, ok := want[f[0]]
		if !ok {
			continue
		}
		if !strings.Contains(line, " "+w+" ") {
			t.Errorf("%s: want status %q in %q", f[0], w, line)
		}
		delete(want, f[0])
	}
	if len(want) > 0 {
		t.Errorf("models list did not list %v:\n%s", want, out.String())
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 faces"}, {1, "1 face"}, {2, "2 faces"}} {
		if got := plural(c.n, "face", "faces"); got != c.want {
			t.Errorf("plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
