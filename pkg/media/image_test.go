package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
)

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInspect(t *testing.T) {
	pngData := encodePNG(t, 40, 30)
	var jpg bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 10, 20)), nil)
	webp := []byte("RIFF\x00\x00\x00\x00WEBPVP8 ")
	cases := []struct {
		name string
		data []byte
		code string
		typ  string
	}{
		{"png", pngData, "", "image/png"},
		{"jpeg", jpg.Bytes(), "", "image/jpeg"},
		{"empty", nil, errcode.EmptyInput, ""},
		{"text", []byte("just some text\n"), errcode.UnsupportedMedia, ""},
		{"mp4", []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"), errcode.UnsupportedMedia, ""},
		{"truncated png header", pngData[:20], errcode.CorruptInput, ""},
		{"truncated webp", webp, errcode.CorruptInput, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.data, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
			if got := code(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if tc.code == "" && info.ContentType != tc.typ {
				t.Fatalf("type %q, want %q", info.ContentType, tc.typ)
			}
		})
	}
	if _, err := Inspect([]byte("\x00\x00\x00\x18ftypmp42"), DefaultLimits); err == nil || !strings.Contains(err.Error(), "video") {
		t.Fatalf("a video should be named as such: %v", err)
	}
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return errcode.Code(err)
}

func TestPixelLimitFromHeaderOnly(t *testing.T) {
	data := encodePNG(t, 100, 100)
	// Only the header is given: the limit must be enforced without the pixel data.
	_, err := Inspect(data[:64], Limits{MaxPixels: 9999})
	if code(err) != errcode.ImageTooLarge {
		t.Fatalf("got %v, want IMAGE_TOO_LARGE", err)
	}
	if _, err := Inspect(data[:64], Limits{MaxPixels: 10000}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestDecodeLimitsAndRoundTrip(t *testing.T) {
	data := encodePNG(t, 64, 48)
	if _, _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: int64(len(data)) - 1, MaxPixels: 1 << 20}); code(err) != errcode.InputTooLarge {
		t.Fatalf("byte limit: %v", err)
	}
	f, info, err := Decode(bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
	if err != nil || f.Width != 64 || f.Height != 48 || info.Format != "png" || len(f.Pix) != 64*48*3 {
		t.Fatalf("decode: %v %dx%d %+v", err, f.Width, f.Height, info)
	}
	var out bytes.Buffer
	if ct, err := Encode(&out, f, "png", 0); err != nil || ct != "image/png" {
		t.Fatal(ct, err)
	}
	g, _, err := Decode(&out, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
	if err != nil || !bytes.Equal(f.Pix, g.Pix) {
		t.Fatal("PNG round trip changed pixels", err)
	}
	// Truncated pixel data: the header passes, decoding fails with CORRUPT_INPUT.
	if _, _, err := Decode(bytes.NewReader(data[:len(data)/2]), Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}); code(err) != errcode.CorruptInput {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := Encode(&out, f, "gif", 0); code(err) != errcode.InvalidRequest {
		t.Fatalf("bad format: %v", err)
	}
}

func TestFromImageDropsAlphaAndOffset(t *testing.T) {
	img := image.NewNRGBA(image.Rect(5, 5, 7, 6))
	img.Set(5, 5, color.NRGBA{R: 10, G: 20, B: 30, A: 255})
	img.Set(6, 5, color.NRGBA{R: 200, G: 100, B: 50, A: 255})
	f := FromImage(img)
	if f.Width != 2 || f.Height != 1 || !bytes.Equal(f.Pix, []byte{10, 20, 30, 200, 100, 50}) {
		t.Fatalf("got %dx%d %v", f.Width, f.Height, f.Pix)
	}
}

func TestPeekHeaderKeepsStream(t *testing.T) {
	data := bytes.Repeat([]byte("x"), HeaderBytes+100)
	head, whole, err := PeekHeader(bytes.NewReader(data))
	if err != nil || len(head) != HeaderBytes {
		t.Fatal(len(head), err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(whole)
	if buf.Len() != len(data) {
		t.Fatalf("stream lost bytes: %d of %d", buf.Len(), len(data))
	}
}
