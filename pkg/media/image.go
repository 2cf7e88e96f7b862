package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/swapd/swapd/pkg/errcode"
)

// Limits bound what an input may cost before any pixel is decoded.
type Limits struct {
	MaxBytes  int64 // encoded size
	MaxPixels int64 // width × height, checked from the header
}

// DefaultLimits suit a single-GPU service: 25 MiB files, 40 megapixels (a 8000×5000
// photo). Pillow warns at 89 M pixels; a face swap never needs that many.
var DefaultLimits = Limits{MaxBytes: 25 << 20, MaxPixels: 40_000_000}

// HeaderBytes is how much of a file Inspect needs to see: enough for the sniffer and for
// image headers behind large EXIF blocks.
const HeaderBytes = 256 << 10

// Info is what Inspect learns from a file's first bytes.
type Info struct {
	ContentType string // image/jpeg, image/png, image/webp
	Format      string // jpeg, png, webp
	Width       int
	Height      int
}

// Inspect identifies an image from its first bytes (at most HeaderBytes) by content,
// never by name, and checks its pixel count against lim without decoding the pixels.
// Videos are recognised so the client hears "not yet" rather than "corrupt".
func Inspect(head []byte, lim Limits) (Info, error) {
	if len(head) == 0 {
		return Info{}, errcode.New(errcode.EmptyInput, "the file is empty (0 bytes)")
	}
	info, ok := sniff(head)
	if !ok {
		if v := sniffVideo(head); v != "" {
			return Info{}, errcode.New(errcode.UnsupportedMedia, "%s videos are not supported yet; send a JPEG, PNG or WebP image", v)
		}
		return Info{}, errcode.New(errcode.UnsupportedMedia, "the file is not a JPEG, PNG or WebP image (its content was checked, not its name)")
	}
	var cfg image.Config
	var err error
	switch info.Format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(head))
	case "png":
		// A declared size so large Go's decoder calls it an overflow (a decompression
		// bomb of a few hundred bytes) is too many pixels, not a corrupt file.
		if w, h, ok := pngSize(head); ok && lim.MaxPixels > 0 && w*h > lim.MaxPixels {
			return Info{}, errcode.New(errcode.ImageTooLarge, "the image is %dx%d (%d pixels); the limit is %d pixels", w, h, w*h, lim.MaxPixels)
		}
		cfg, err = png.DecodeConfig(bytes.NewReader(head))
	case "webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(head))
	}
	if err != nil {
		return Info{}, errcode.New(errcode.CorruptInput, "the %s header cannot be read: %v", info.Format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Info{}, errcode.New(errcode.CorruptInput, "the %s image has no pixels (%dx%d)", info.Format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); lim.MaxPixels > 0 && px > lim.MaxPixels {
		return Info{}, errcode.New(errcode.ImageTooLarge, "the image is %dx%d (%d pixels); the limit is %d pixels", cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	return info, nil
}

func sniff(b []byte) (Info, bool) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return Info{ContentType: "image/jpeg", Format: "jpeg"}, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return Info{ContentType: "image/png", Format: "png"}, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return Info{ContentType: "image/webp", Format: "webp"}, true
	}
	return Info{}, false
}

func sniffVideo(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		if string(b[8:10]) == "qt" {
			return "QuickTime"
		}
		return "MP4"
	case bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return "WebM/Matroska"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "AVI ":
		return "AVI"
	}
	return ""
}

// PeekHeader wraps r so its first bytes can be inspected without consuming them; the
// returned reader yields the whole stream.
func PeekHeader(r io.Reader) (head []byte, whole io.Reader, err error) {
	br := bufio.NewReaderSize(r, HeaderBytes)
	head, err = br.Peek(HeaderBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, err
	}
	return head, br, nil
}

// Decode reads at most lim.MaxBytes from r, checks the header against lim and decodes
// the image into a Frame, turned upright by its EXIF orientation (see Orientation).
// Every failure is an *errcode.Error.
func Decode(r io.Reader, lim Limits) (Frame, Info, error) {
	max := lim.MaxBytes
	if max <= 0 {
		max = DefaultLimits.MaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Frame{}, Info{}, fmt.Errorf("read image: %w", err)
	}
	if int64(len(data)) > max {
		return Frame{}, Info{}, errcode.New(errcode.InputTooLarge, "the file is larger than the %d byte limit", max)
	}
	head := data
	if len(head) > HeaderBytes {
		head = head[:HeaderBytes]
	}
	info, err := Inspect(head, lim)
	if err != nil {
		return Frame{}, Info{}, err
	}
	var img image.Image
	switch info.Format {
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	case "png":
		img, err = png.Decode(bytes.NewReader(data))
	case "webp":
		img, err = webp.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return Frame{}, Info{}, errcode.New(errcode.CorruptInput, "the %s image does not decode: %v", info.Format, err)
	}
	// EXIF orientation: the frame is turned upright as viewers show it (a phone's
	// portrait photo is stored landscape), and Info gives the upright size.
	f := Orient(FromImage(img), Orientation(data))
	info.Width, info.Height = f.Width, f.Height
	return f, info, nil
}

// FromImage converts any image.Image into a packed RGB Frame, dropping alpha. Other
// types than *image.RGBA go through one RGBA row at a time, so the conversion needs no
// second whole-image buffer (4 bytes a pixel) besides the decoder's and the Frame.
func FromImage(img image.Image) Frame {
	b := img.Bounds()
	f := NewFrame(b.Dx(), b.Dy())
	rgba, direct := img.(*image.RGBA)
	if !direct || rgba.Rect.Min != (image.Point{}) {
		direct = false
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
	}
	for y := 0; y < f.Height; y++ {
		row := y
		if !direct {
			draw.Draw(rgba, rgba.Rect, img, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
			row = 0
		}
		src := rgba.Pix[row*rgba.Stride : row*rgba.Stride+f.Width*4]
		dst := f.Pix[y*f.Width*3 : (y+1)*f.Width*3]
		for x := 0; x < f.Width; x++ {
			dst[x*3], dst[x*3+1], dst[x*3+2] = src[x*4], src[x*4+1], src[x*4+2]
		}
	}
	return f
}

// Image returns f as an *image.RGBA (opaque).
func (f Frame) Image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for i, j := 0, 0; i < len(f.Pix); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = f.Pix[i], f.Pix[i+1], f.Pix[i+2], 0xFF
	}
	return img
}

// Encode writes f as "jpeg" (quality 1–100, 0 means 90) or "png".
func Encode(w io.Writer, f Frame, format string, quality int) (contentType string, err error) {
	switch format {
	case "jpeg", "jpg", "":
		if quality <= 0 {
			quality = 90
		}
		return "image/jpeg", jpeg.Encode(w, f.Image(), &jpeg.Options{Quality: quality})
	case "png":
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		return "image/png", enc.Encode(w, f.Image())
	}
	return "", errcode.New(errcode.InvalidRequest, "output_format %q is not one of jpeg, png", format)
}
