package media_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/swapd/swapd/pkg/media"
)

// exifTIFF builds an EXIF TIFF block whose IFD0 holds a Make tag (an ASCII value
// stored at an offset, so the parser must step over an entry) and then the
// orientation, in either byte order.
func exifTIFF(orientation int, bo binary.ByteOrder) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	w16 := func(v uint16) { binary.Write(&b, bo, v) }
	w32 := func(v uint32) { binary.Write(&b, bo, v) }
	w16(42)
	w32(8) // IFD0 right after the header
	w16(2) // two entries
	w16(0x010F)
	w16(2) // ASCII
	w32(6)
	w32(8 + 2 + 2*12 + 4) // "Phone\0" after the IFD
	w16(0x0112)
	w16(3) // SHORT
	w32(1)
	w16(uint16(orientation)) // left-justified in the 4-byte value field
	w16(0)
	w32(0) // no next IFD
	b.WriteString("Phone\x00")
	return b.Bytes()
}

// withAPP1 inserts an Exif APP1 segment right after a JPEG's SOI marker.
func withAPP1(jpg, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// withEXIf inserts an eXIf chunk after a PNG's IHDR chunk.
func withEXIf(p, tiff []byte) []byte {
	ihdrEnd := 8 + 4 + 4 + 13 + 4
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(tiff)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, tiff...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

// upright is a small image whose every pixel differs, so any wrong turn shows.
func upright(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(40 * x), uint8(40 * y), uint8(7*x + 3*y), 255})
		}
	}
	return img
}

// storedAs returns the pixels a camera stores for the upright image u under EXIF
// orientation o, written from the EXIF specification's table (what the stored 0th
// row and 0th column are, visually) rather than from the code under test.
func storedAs(u *image.RGBA, o int) *image.RGBA {
	W, H := u.Rect.Dx(), u.Rect.Dy()
	// For each orientation: the visual side the stored row 0 is, and the visual side
	// the stored column 0 is.
	sides := map[int][2]string{
		1: {"top", "left"}, 2: {"top", "right"}, 3: {"bottom", "right"}, 4: {"bottom", "left"},
		5: {"left", "top"}, 6: {"right", "top"}, 7: {"right", "bottom"}, 8: {"left", "bottom"},
	}[o]
	sw, sh := W, H
	if o >= 5 {
		sw, sh = H, W
	}
	s := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for r := 0; r < sh; r++ {
		for c := 0; c < sw; c++ {
			var x, y int
			if o <= 4 { // rows stay rows
				y, x = r, c
				if sides[0] == "bottom" {
					y = H - 1 - r
				}
				if sides[1] == "right" {
					x = W - 1 - c
				}
			} else { // stored rows are visual columns
				x, y = r, c
				if sides[0] == "right" {
					x = W - 1 - r
				}
				if sides[1] == "bottom" {
					y = H - 1 - c
				}
			}
			s.Set(c, r, u.At(x, y))
		}
	}
	return s
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeAppliesEXIFOrientationPNG(t *testing.T) {
	u := upright(5, 3)
	want := media.FromImage(u)
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			data := withEXIf(encodePNG(t, storedAs(u, o)), exifTIFF(o, bo))
			if got := media.Orientation(data); got != o {
				t.Fatalf("orientation %d (%v): read %d", o, bo, got)
			}
			f, info, err := media.Decode(bytes.NewReader(data), media.DefaultLimits)
			if err != nil {
				t.Fatalf("orientation %d: %v", o, err)
			}
			if f.Width != 5 || f.Height != 3 || info.Width != 5 || info.Height != 3 || !bytes.Equal(f.Pix, want.Pix) {
				t.Fatalf("orientation %d (%v): decoded %dx%d (info %dx%d), not the upright image", o, bo, f.Width, f.Height, info.Width, info.Height)
			}
		}
	}
}

// A phone's portrait JPEG: stored landscape, orientation 6 or 8. The decoded frame is
// portrait, and its top-left corner is the upright image's top-left colour.
func TestDecodeAppliesEXIFOrientationJPEG(t *testing.T) {
	u := image.NewRGBA(image.Rect(0, 0, 64, 96)) // upright: portrait, red top half, blue bottom, a green top-left block
	for y := 0; y < 96; y++ {
		for x := 0; x < 64; x++ {
			c := color.RGBA{220, 20, 20, 255}
			if y >= 48 {
				c = color.RGBA{20, 20, 220, 255}
			}
			if x < 16 && y < 16 {
				c = color.RGBA{20, 220, 20, 255}
			}
			u.Set(x, y, c)
		}
	}
	for _, o := range []int{6, 8, 3} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, storedAs(u, o), &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		data := withAPP1(b.Bytes(), exifTIFF(o, binary.BigEndian))
		f, _, err := media.Decode(bytes.NewReader(data), media.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if f.Width != 64 || f.Height != 96 {
			t.Fatalf("orientation %d: decoded %dx%d, want the upright 64x96", o, f.Width, f.Height)
		}
		px := func(x, y int) [3]byte { i := (y*f.Width + x) * 3; return [3]byte(f.Pix[i : i+3]) }
		if p := px(4, 4); p[1] < 150 || p[0] > 100 {
			t.Errorf("orientation %d: top-left is %v, want green", o, p)
		}
		if p := px(40, 20); p[0] < 150 || p[2] > 100 {
			t.Errorf("orientation %d: upper half is %v, want red", o, p)
		}
		if p := px(40, 80); p[2] < 150 || p[0] > 100 {
			t.Errorf("orientation %d: lower half is %v, want blue", o, p)
		}
	}
}

func TestOrientationMalformedIsIgnored(t *testing.T) {
	var b bytes.Buffer
	jpeg.Encode(&b, upright(8, 8), nil)
	good := withAPP1(b.Bytes(), exifTIFF(6, binary.BigEndian))
	if media.Orientation(good) != 6 {
		t.Fatal("well-formed orientation 6 not read")
	}
	// Every cut of the EXIF block, and the whole file cut anywhere, reads without a
	// panic; a cut EXIF falls back to 1 (as stored).
	for n := 0; n < len(good); n++ {
		_ = media.Orientation(good[:n])
	}
	for _, tc := range []struct {
		name string
		tiff []byte
	}{
		{"orientation 9", exifTIFF(9, binary.BigEndian)},
		{"orientation 0", exifTIFF(0, binary.LittleEndian)},
		{"bad byte order", append([]byte("XX"), exifTIFF(6, binary.BigEndian)[2:]...)},
		{"IFD offset past the end", func() []byte { t := exifTIFF(6, binary.BigEndian); t[7] = 0xF0; return t }()},
		{"orientation entry cut short", exifTIFF(6, binary.BigEndian)[:8+2+12+6]},
		{"orientation as a LONG", func() []byte { t := exifTIFF(6, binary.BigEndian); t[8+2+12+3] = 4; return t }()},
		{"empty", nil},
	} {
		data := withAPP1(b.Bytes(), tc.tiff)
		if o := media.Orientation(data); o != 1 {
			t.Errorf("%s: orientation %d, want 1", tc.name, o)
		}
		if _, _, err := media.Decode(bytes.NewReader(data), media.DefaultLimits); err != nil {
			t.Errorf("%s: a broken EXIF block failed the decode: %v", tc.name, err)
		}
	}
}

// An extended WebP keeps EXIF in its own chunk after VP8X (odd sizes padded).
func TestOrientationWebPChunk(t *testing.T) {
	tiff := exifTIFF(8, binary.LittleEndian)
	var body bytes.Buffer
	body.WriteString("WEBP")
	chunk := func(typ string, data []byte) {
		body.WriteString(typ)
		binary.Write(&body, binary.LittleEndian, uint32(len(data)))
		body.Write(data)
		if len(data)%2 == 1 {
			body.WriteByte(0)
		}
	}
	chunk("VP8X", make([]byte, 10))
	chunk("ICCP", []byte{1, 2, 3}) // odd: padded
	chunk("EXIF", tiff)
	riff := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(body.Len()))...)
	if o := media.Orientation(append(riff, body.Bytes()...)); o != 8 {
		t.Fatalf("WebP EXIF chunk: orientation %d, want 8", o)
	}
}
