package media

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
)

// pattern fills img with a busy but compressible pattern.
func pattern(img draw.Image) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := uint16(x*97 + y*31)
			img.Set(x, y, color.NRGBA64{R: v, G: v * 3, B: v * 7, A: 0xffff - v/4})
		}
	}
}

func encodeWith(t *testing.T, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// costImages returns encoded images of every decoder path ImageCost prices.
func costImages(t *testing.T, w, h int) map[string][]byte {
	t.Helper()
	r := image.Rect(0, 0, w, h)
	rgba64, nrgba, gray, gray16 := image.NewRGBA64(r), image.NewNRGBA(r), image.NewGray(r), image.NewGray16(r)
	pal := image.NewPaletted(r, palette.Plan9)
	for _, img := range []draw.Image{rgba64, nrgba, gray, gray16, pal} {
		pattern(img)
	}
	opaque := image.NewRGBA(r)
	draw.Draw(opaque, r, nrgba, image.Point{}, draw.Src)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 0xff
	}
	out := map[string][]byte{
		"png 16-bit":      encodeWith(t, rgba64, "png"),
		"png 8-bit alpha": encodeWith(t, nrgba, "png"),
		"png 8-bit rgb":   encodeWith(t, opaque, "png"),
		"png gray":        encodeWith(t, gray, "png"),
		"png gray16":      encodeWith(t, gray16, "png"),
		"png paletted":    encodeWith(t, pal, "png"),
		"jpeg 4:2:0":      encodeWith(t, opaque, "jpeg"),
		"jpeg gray":       encodeWith(t, gray, "jpeg"),
	}
	// 4:4:4 JPEG and WebP (lossless and lossy) from ffmpeg, which Go cannot write.
	vtRequireFFmpeg(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.png")
	if err := os.WriteFile(src, out["png 8-bit rgb"], 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"jpeg 4:4:4":    {"-pix_fmt", "yuvj444p", "-q:v", "3", "out.jpg"},
		"webp lossless": {"-c:v", "libwebp", "-lossless", "1", "out-ll.webp"},
		"webp lossy":    {"-c:v", "libwebp", "-quality", "80", "out-lossy.webp"},
	} {
		dst := filepath.Join(dir, args[len(args)-1])
		vtFFmpeg(t, append(append([]string{"-i", src, "-frames:v", "1"}, args[:len(args)-1]...), dst)...)
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// ImageCost must cover what decoding really allocates: every byte Decode allocates
// (TotalAlloc counts garbage too, so this bounds what is live at any moment) fits in
// the Frame plus the extra ImageCost prices, beyond the copies of the encoded file.
func TestImageCostCoversDecode(t *testing.T) {
	const w, h = 1200, 900
	for name, data := range costImages(t, w, h) {
		px, extra, ok := ImageCost(data)
		if !ok || px != w*h {
			t.Fatalf("%s: ImageCost read %d pixels (ok %v), want %d", name, px, ok, w*h)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _ = io.ReadAll(io.LimitReader(bytes.NewReader(data), DefaultLimits.MaxBytes+1))
		runtime.ReadMemStats(&after)
		// What Decode's io.ReadAll allocates, growing its buffer (garbage included).
		readAll := int64(after.TotalAlloc - before.TotalAlloc)
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, _, err := Decode(bytes.NewReader(data), DefaultLimits)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		allocated := int64(after.TotalAlloc - before.TotalAlloc)
		priced := 3*px + extra
		slack := readAll - 2*int64(len(data)) + 256<<10 // ReadAll's garbage beyond the 2 copies priced; tables, row buffers
		t.Logf("%-16s %7d bytes: allocated %5.1f B/px, priced %5.1f B/px", name, len(data), float64(allocated)/float64(px), float64(priced)/float64(px))
		if allocated > priced+slack {
			t.Errorf("%s: decoding allocated %d bytes, more than the %d priced", name, allocated, priced)
		}
		if len(f.Pix) != 3*w*h {
			t.Fatalf("%s: frame %dx%d", name, f.Width, f.Height)
		}
	}
}

// The conversion to a Frame, now a row at a time, gives what converting the whole
// image at once gave, for every image type the decoders return.
func TestFromImageRowsMatchWholeImage(t *testing.T) {
	whole := func(img image.Image) []byte {
		b := img.Bounds()
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		out := make([]byte, 0, b.Dx()*b.Dy()*3)
		for i := 0; i < len(rgba.Pix); i += 4 {
			out = append(out, rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2])
		}
		return out
	}
	r := image.Rect(3, 5, 70, 41) // odd sizes, a non-zero origin
	imgs := map[string]image.Image{
		"ycbcr 4:2:0": image.NewYCbCr(r, image.YCbCrSubsampleRatio420),
		"nycbcra":     image.NewNYCbCrA(r, image.YCbCrSubsampleRatio422),
		"cmyk":        image.NewCMYK(r),
	}
	for name, data := range costImages(t, 67, 36) {
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		imgs[name] = img
	}
	for i := range imgs["ycbcr 4:2:0"].(*image.YCbCr).Y {
		imgs["ycbcr 4:2:0"].(*image.YCbCr).Y[i] = byte(i * 13)
	}
	for i := range imgs["ycbcr 4:2:0"].(*image.YCbCr).Cb {
		imgs["ycbcr 4:2:0"].(*image.YCbCr).Cb[i] = byte(i * 5)
		imgs["ycbcr 4:2:0"].(*image.YCbCr).Cr[i] = byte(i * 11)
	}
	nyc := imgs["nycbcra"].(*image.NYCbCrA)
	for i := range nyc.A {
		nyc.A[i], nyc.Y[i] = byte(i*3), byte(i*17)
	}
	pattern(imgs["cmyk"].(*image.CMYK))
	sub := image.NewNRGBA64(image.Rect(0, 0, 50, 40))
	pattern(sub)
	imgs["nrgba64 sub-image"] = sub.SubImage(image.Rect(7, 9, 43, 33))
	for name, img := range imgs {
		f := FromImage(img)
		if want := whole(img); !bytes.Equal(f.Pix, want) || f.Width != img.Bounds().Dx() || f.Height != img.Bounds().Dy() {
			t.Errorf("%s: row-wise conversion differs from the whole-image one", name)
		}
	}
}

func TestJPEGProgressive(t *testing.T) {
	seg := func(marker byte, body ...byte) []byte {
		n := len(body) + 2
		return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, body...)
	}
	soi := []byte{0xFF, 0xD8}
	app := seg(0xE1, make([]byte, 300)...) // a length with a high byte
	sof := []byte{8, 0, 16, 0, 16, 1, 1, 0x11, 0}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	if !jpegProgressive(cat(soi, app, []byte{0xFF}, seg(0xC2, sof...))) {
		t.Error("SOF2 after an APP1 and a fill byte not seen as progressive")
	}
	if jpegProgressive(cat(soi, app, seg(0xC4, 1, 2, 3), seg(0xC0, sof...))) {
		t.Error("baseline SOF0 seen as progressive")
	}
	if jpegProgressive(cat(soi, seg(0xC2)[:3])) {
		t.Error("a cut header seen as progressive")
	}
}

// Concurrent jobs never hold more decoded bytes than the budget, counted by the jobs
// themselves (each adds what it reserved while it decodes and holds its frames), and
// the budget gives every byte back.
func TestBudgetBoundsConcurrentDecodes(t *testing.T) {
	img := image.NewRGBA64(image.Rect(0, 0, 600, 500))
	pattern(img)
	data := encodeWith(t, img, "png")
	cost := JobCost(data)
	if want := int64(600*500)*(3+8) + 2*int64(len(data)); cost != want {
		t.Fatalf("JobCost of a 600x500 16-bit PNG: %d, want %d (Frame + RGBA64)", cost, want)
	}
	b := NewBudget(cost * 5 / 2) // two jobs fit, three do not
	var mu sync.Mutex
	var inflight, most int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := b.Reserve(context.Background(), data)
			if err != nil {
				errs <- err
				return
			}
			defer lease.Release()
			mu.Lock()
			inflight += lease.Bytes()
			most = max(most, inflight)
			mu.Unlock()
			f, _, err := Decode(bytes.NewReader(data), DefaultLimits)
			if err == nil {
				_ = f.Clone() // the job's result
			}
			mu.Lock()
			inflight -= lease.Bytes()
			mu.Unlock()
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if most > b.Total() || b.Peak() > b.Total() {
		t.Fatalf("jobs held %d bytes at once (budget peak %d), over the budget of %d", most, b.Peak(), b.Total())
	}
	if most < cost || b.Held() != 0 {
		t.Fatalf("held at most %d (one job costs %d); %d still held after all ended", most, cost, b.Held())
	}

	// Deterministically: two leases fit, a third does not (it would wait), and fits
	// once one is released.
	l1, err1 := b.Reserve(context.Background(), data)
	l2, err2 := b.Reserve(context.Background(), data)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if b.sem.TryAcquire(cost) {
		t.Fatal("a third job's bytes were free with two held")
	}
	l1.Release()
	l1.Release() // twice is harmless
	l3, err := b.Reserve(context.Background(), data)
	if err != nil {
		t.Fatalf("third lease after a release: %v", err)
	}
	l2.Release()
	l3.Release()
	if b.Held() != 0 || !b.sem.TryAcquire(b.Total()) {
		t.Fatalf("%d bytes held after every lease was released", b.Held())
	}
}

func TestBudgetRefusesWhatCanNeverFit(t *testing.T) {
	img := image.NewRGBA64(image.Rect(0, 0, 400, 300))
	data := encodeWith(t, img, "png")
	b := NewBudget(JobCost(data) - 1)
	_, err := b.Reserve(context.Background(), data)
	if errcode.Code(err) != errcode.ImageTooLarge || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("an image larger than the whole budget: %v, want IMAGE_TOO_LARGE", err)
	}
	// Inputs decode one at a time: a job's sources do not add up.
	small := encodeWith(t, image.NewRGBA64(image.Rect(0, 0, 100, 100)), "png")
	if c := JobCost(data, small, small, small); c != JobCost(data) {
		t.Fatalf("three small sources raised the job's cost from %d to %d", JobCost(data), c)
	}
	if c := JobCost(nil, data, nil); c != 400*300*(3+8)+2*int64(len(data)) {
		t.Fatalf("a video job with one source costs %d", c)
	}
	// No budget: nothing is refused or held.
	var none *Budget
	if l, err := none.Reserve(context.Background(), data); err != nil || l.Bytes() != 0 {
		t.Fatalf("nil budget: %v, %v", l, err)
	}
	if NewBudget(0) != nil {
		t.Fatal("a zero budget should mean no limit")
	}
	// A file whose header does not read costs nothing here; Decode reports it.
	if c := JobCost([]byte("not an image")); c != 0 {
		t.Fatalf("garbage costs %d", c)
	}
}
