package e2e

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// The corpus: malformed and hostile requests, each with the status and error code it
// must get. None may answer 500, and good jobs submitted alongside still succeed.
// Every file is made here (Go's encoders, ffmpeg), none is committed.

// corpusReq is one request of the corpus.
type corpusReq struct {
	name        string
	method      string // POST when empty
	path        string // /v1/jobs when empty
	contentType string // application/json when empty; "-" sends none
	header      map[string]string
	body        []byte
	key         string // API key; the stack's when empty
	status      int
	code        string // native: error.code; RunPod (/v2): a substring of "error"
}

func (c corpusReq) do(t *testing.T) (int, []byte) {
	t.Helper()
	method, path, ct := c.method, c.path, c.contentType
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/v1/jobs"
	}
	if ct == "" {
		ct = "application/json"
	}
	req, err := http.NewRequest(method, st.URL+path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	key := c.key
	if key == "" {
		key = st.Key
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if ct != "-" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The OpenAPI check (http.DefaultTransport) turns an answer the document does
		// not list (a 500 above all) into an error: report it as that answer, marked.
		var code int
		if i := strings.Index(err.Error(), " answered "); i >= 0 {
			fmt.Sscanf(err.Error()[i+len(" answered "):], "%d", &code)
		}
		if code == 0 {
			t.Fatalf("%s: %v", c.name, err)
		}
		return code, []byte(undocumented + err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// undocumented prefixes the body do returns for an answer the OpenAPI document does
// not describe.
const undocumented = "UNDOCUMENTED ANSWER: "

func js(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// in is a base64 input.
func in(b []byte) map[string]string { return map[string]string{"base64": b64(b)} }

// withOpts is a valid JSON job with options (a map, or anything to marshal as "options").
func withOpts(src, tgt []byte, opts any) []byte {
	return js(map[string]any{"source": in(src), "target": in(tgt), "options": opts})
}

// multipartRaw builds a multipart body by hand with boundary "XyZ", so the test can
// break it in ways mime/multipart's writer will not. Each part is {name, data}.
func multipartRaw(parts [][2]string, closing bool) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "--XyZ\r\nContent-Disposition: form-data; name=%q; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n", p[0], p[1])
	}
	if closing {
		b.WriteString("--XyZ--\r\n")
	}
	return b.Bytes()
}

// ---- hostile files ----

func encJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// convert draws img into dst (any draw.Image) and returns it.
func convert[T draw.Image](img image.Image, dst T) T {
	draw.Draw(dst, dst.Bounds(), img, img.Bounds().Min, draw.Src)
	return dst
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngBomb is a valid-looking PNG of a few hundred bytes that declares w×h RGB pixels
// (a decompression bomb: its IDAT would inflate to w·h·3 bytes of zeros).
func pngBomb(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, no interlace
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, 1<<16)) // the start of the zero rows
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// jpegDeclaring returns jpg with the frame header (SOF0) rewritten to declare w×h.
func jpegDeclaring(t *testing.T, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in the JPEG")
	}
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

// cmykJPEG encodes img, enlarged scale times, as a baseline 4-component (Adobe CMYK)
// JPEG, as print tools write them and Go's encoder cannot: every 8×8 block carries
// only its DC (mean) coefficient, which keeps the encoder a page long; the picture is
// a mosaic of 8/scale original pixels.
func cmykJPEG(img image.Image, scale int) []byte {
	b := img.Bounds()
	w, h := b.Dx()*scale/8*8, b.Dy()*scale/8*8
	var out bytes.Buffer
	seg := func(marker byte, data []byte) {
		out.Write([]byte{0xFF, marker, byte((len(data) + 2) >> 8), byte(len(data) + 2)})
		out.Write(data)
	}
	out.Write([]byte{0xFF, 0xD8})
	seg(0xEE, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}) // APP14, transform 0: CMYK
	seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{8}, 64)...))      // one table, all 8: DC = mean − 128
	seg(0xC0, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0})
	dcBits := []byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0} // the standard luminance DC table
	dht := append(append([]byte{0x00}, dcBits...), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	dht = append(dht, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00) // AC: EOB only, code "0"
	seg(0xC4, dht)
	seg(0xDA, []byte{4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0})
	// Canonical codes of the DC table.
	var codes [12]struct{ code, n uint32 }
	code, sym := uint32(0), 0
	for l, n := range dcBits {
		for k := 0; k < int(n); k++ {
			codes[sym] = struct{ code, n uint32 }{code, uint32(l + 1)}
			code++
			sym++
		}
		code <<= 1
	}
	var acc, nacc uint32
	put := func(v, n uint32) {
		for i := int(n) - 1; i >= 0; i-- {
			acc = acc<<1 | (v>>uint(i))&1
			nacc++
			if nacc == 8 {
				out.WriteByte(byte(acc))
				if acc == 0xFF {
					out.WriteByte(0) // byte stuffing
				}
				acc, nacc = 0, 0
			}
		}
	}
	var pred [4]int
	for by := 0; by < h/8; by++ {
		for bx := 0; bx < w/8; bx++ {
			var sum [4]int
			for y := 0; y < 8; y++ {
				for x := 0; x < 8; x++ {
					r, g, bl, _ := img.At(b.Min.X+(bx*8+x)/scale, b.Min.Y+(by*8+y)/scale).RGBA()
					c, m, yy, k := color.RGBToCMYK(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
					for i, v := range []uint8{c, m, yy, k} {
						sum[i] += 255 - int(v) // Adobe stores CMYK inverted
					}
				}
			}
			for i := range sum {
				dc := sum[i]/64 - 128
				diff := dc - pred[i]
				pred[i] = dc
				mag, s := diff, uint32(0)
				if mag < 0 {
					mag = -mag
				}
				for mag>>s != 0 {
					s++
				}
				put(codes[s].code, codes[s].n)
				if s > 0 {
					v := diff
					if v < 0 {
						v += 1<<s - 1
					}
					put(uint32(v), s)
				}
				put(0, 1) // EOB
			}
		}
	}
	for nacc != 0 {
		put(1, 1) // pad with ones
	}
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

// waitEnd polls job id until it ends, for at most d, and returns it as last seen.
func waitEnd(t *testing.T, id string, d time.Duration) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		j := st.get(t, id)
		if j.Status.Terminal() || time.Now().After(deadline) {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobCase is a corpus entry the API accepts (its header is fine) and the worker must
// end with the given status and code.
type jobCase struct {
	name           string
	source, target []byte
	status         jobs.Status
	code           string // for a failure
	targetURL      string // instead of target: a URL input the worker fetches
	opts           map[string]any
}

func TestCorpus(t *testing.T) {
	face := readFile(t, "faces/grace_hopper.jpg") // 512x600, one face
	facePNG := readFile(t, "faces/astronaut.png")
	small := readFile(t, "faces/flower_hat.jpg") // 200x250, one face
	upright := decodeImage(t, face)

	// Good jobs before the corpus; more after. All must succeed.
	var good []string
	good = append(good, submitJSON(t, facePNG, face, nil), submitJSON(t, small, face, map[string]any{"output_format": "png"}))

	ownUpload := upload(t, small)
	ownPrefix := ownUpload[:strings.LastIndex(ownUpload, "/")+1]
	otherUpload := as("sk_test_other").upload(t, small)
	textUpload := upload(t, []byte("just some text, not an image\n"))
	var unused struct{ Key string }
	if resp := st.postJSON(t, "/v1/uploads", map[string]any{}, &unused); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: %d", resp.StatusCode)
	}

	S, T := in(small), in(face)
	job := func(extra map[string]any) []byte {
		m := map[string]any{"source": S, "target": T}
		for k, v := range extra {
			m[k] = v
		}
		return js(m)
	}
	opt := func(name string, v any) corpusReq {
		return corpusReq{name: "option " + name + "=" + string(js(v)), body: withOpts(small, face, map[string]any{name: v}), status: 400, code: "INVALID_REQUEST"}
	}
	inv := func(name string, body []byte) corpusReq {
		return corpusReq{name: name, body: body, status: 400, code: "INVALID_REQUEST"}
	}
	mp := func(name string, body []byte, status int, code string) corpusReq {
		return corpusReq{name: "multipart: " + name, contentType: "multipart/form-data; boundary=XyZ", body: body, status: status, code: code}
	}
	rp := func(name, input string, msg string) corpusReq {
		return corpusReq{name: "runpod: " + name, path: rpBase + "/run", body: []byte(input), status: 400, code: msg}
	}
	nine := make([]any, 9)
	for i := range nine {
		nine[i] = S
	}
	nested := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)

	cases := []corpusReq{
		// JSON: syntax and shape.
		inv("json: not JSON", []byte("{not json")),
		inv("json: empty body", nil),
		inv("json: null", []byte("null")),
		inv("json: a list", []byte("[]")),
		inv("json: a string", []byte(`"swap please"`)),
		inv("json: cut short", job(nil)[:40]),
		inv("json: deeply nested", []byte(`{"options": `+nested+`}`)),
		inv("json: source is a number", job(map[string]any{"source": 5})),
		inv("json: target is a string", job(map[string]any{"target": "face.jpg"})),
		inv("json: target is a list", job(map[string]any{"target": []any{T}})),
		inv("json: target is null", job(map[string]any{"target": nil})),
		inv("json: options is a string", job(map[string]any{"options": "fast"})),
		inv("json: detector_size as a string", withOpts(small, face, map[string]any{"detector_size": "640"})),
		inv("json: mouth_mask as a string", withOpts(small, face, map[string]any{"mouth_mask": "yes"})),
		inv("json: target_indexes as a string", withOpts(small, face, map[string]any{"target_indexes": "0,1"})),
		inv("json: unknown top-level field", job(map[string]any{"colour": "blue"})),
		inv("json: unknown option", withOpts(small, face, map[string]any{"turbo": true})),
		inv("options: target_indexes names a face twice", withOpts(small, face, map[string]any{"target_indexes": []int{0, 0}})),
		inv("json: unknown field in an input", job(map[string]any{"target": map[string]string{"base64": b64(face), "name": "x.jpg"}})),
		inv("json: huge number", []byte(`{"source": {"base64": "`+b64(small)+`"}, "target": {"base64": "`+b64(face)+`"}, "options": {"detector_size": 1e400}}`)),
		inv("json: integer overflow", []byte(`{"source": {"base64": "`+b64(small)+`"}, "target": {"base64": "`+b64(face)+`"}, "options": {"jpeg_quality": 99999999999999999999}}`)),
		inv("json: fractional integer", withOpts(small, face, map[string]any{"detector_size": 640.5})),
		inv("json: index overflow", []byte(`{"source": {"base64": "`+b64(small)+`"}, "target": {"base64": "`+b64(face)+`"}, "options": {"target_indexes": [1e10]}}`)),
		inv("json: kind gif", job(map[string]any{"kind": "gif"})),
		inv("json: probe with inputs", job(map[string]any{"kind": "probe"})),
		inv("json: kind video for an image", job(map[string]any{"kind": "video"})),
		inv("json: nine sources", job(map[string]any{"source": nine})),
		inv("json: empty source list", job(map[string]any{"source": []any{}})),
		inv("json: input with two kinds", job(map[string]any{"target": map[string]string{"base64": b64(face), "url": "https://example.com/a.jpg"}})),
		inv("json: input with none", job(map[string]any{"target": map[string]string{}})),
		inv("json: webhook ftp", job(map[string]any{"webhook": map[string]string{"url": "ftp://example.com/hook"}})),
		inv("json: webhook as a string", job(map[string]any{"webhook": "https://example.com/hook"})),
		{name: "json: trailing garbage", body: append(job(nil), []byte(`{"kind": "probe"}`)...), status: 400, code: "INVALID_REQUEST"},
		inv("json: byte order mark", append([]byte("\xEF\xBB\xBF"), job(nil)...)),
		inv("json: reference truncated base64", job(map[string]any{"reference": map[string]string{"base64": "QUJ"}})),
		inv("json: webhook url with a newline", job(map[string]any{"webhook": map[string]string{"url": "https://example.com/\nhook"}})),
		inv("json: url input without a host", job(map[string]any{"target": map[string]string{"url": "http:///face.jpg"}})),
		inv("json: url input with a space", job(map[string]any{"target": map[string]string{"url": "http://exa mple.com/face.jpg"}})),
		{name: "json: url input, numeric loopback", body: job(map[string]any{"target": map[string]string{"url": "http://2130706433/face.jpg"}}), status: 400, code: "URL_BLOCKED"},
		{name: "json: url input, IPv4-mapped loopback", body: job(map[string]any{"target": map[string]string{"url": "http://[::ffff:127.0.0.1]/face.jpg"}}), status: 400, code: "URL_BLOCKED"},
		inv("json: url input with a file scheme", job(map[string]any{"target": map[string]string{"url": "file:///etc/passwd"}})),
		{name: "json: webhook at a private address", body: job(map[string]any{"webhook": map[string]string{"url": "http://10.1.2.3/hook"}}), status: 400, code: "URL_BLOCKED"},
		{name: "json: url input at the metadata address", body: job(map[string]any{"target": map[string]string{"url": "http://169.254.169.254/latest/meta-data/"}}), status: 400, code: "URL_BLOCKED"},

		// Base64.
		inv("base64: bad alphabet", job(map[string]any{"target": map[string]string{"base64": "!!!not*base64!!!"}})),
		inv("base64: truncated QUJ", job(map[string]any{"target": map[string]string{"base64": "QUJ"}})),
		inv("base64: URL-safe alphabet", job(map[string]any{"target": map[string]string{"base64": strings.NewReplacer("+", "-", "/", "_").Replace(b64(face))}})),
		inv("base64: padding in the middle", job(map[string]any{"target": map[string]string{"base64": "QUJD=QUJD"}})),
		inv("base64: empty", job(map[string]any{"target": map[string]string{"base64": ""}})),
		inv("base64: data URL without ;base64,", job(map[string]any{"target": map[string]string{"base64": "data:image/jpeg," + b64(face)}})),
		inv("base64: data URL with broken payload", job(map[string]any{"target": map[string]string{"base64": "data:image/jpeg;base64,@@@@"}})),
		{name: "base64: text", body: job(map[string]any{"target": in([]byte("hello, I am not an image"))}), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "base64: data URL of text", body: job(map[string]any{"target": map[string]string{"base64": "data:text/plain;base64," + b64([]byte("plain text here"))}}), status: 415, code: "UNSUPPORTED_MEDIA"},

		// Headers.
		{name: "header: text/plain", contentType: "text/plain", body: job(nil), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "header: application/xml", contentType: "application/xml", body: []byte("<job/>"), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "header: form-urlencoded", contentType: "application/x-www-form-urlencoded", body: []byte("source=a&target=b"), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "header: Idempotency-Key too long", header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, body: job(nil), status: 400, code: "INVALID_REQUEST"},
		{name: "header: multipart without boundary", contentType: "multipart/form-data", body: multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}}, true), status: 400, code: "INVALID_REQUEST"},

		// Multipart.
		mp("missing target", multipartRaw([][2]string{{"source", string(small)}}, true), 400, "INVALID_REQUEST"),
		mp("missing source", multipartRaw([][2]string{{"target", string(face)}}, true), 400, "INVALID_REQUEST"),
		mp("duplicate target", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"target", string(face)}}, true), 400, "INVALID_REQUEST"),
		mp("duplicate reference", multipartRaw([][2]string{{"source", string(small)}, {"reference", string(small)}, {"reference", string(small)}, {"target", string(face)}}, true), 400, "INVALID_REQUEST"),
		mp("no closing boundary", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}}, false), 400, "INVALID_REQUEST"),
		mp("part without a name", []byte("--XyZ\r\nContent-Disposition: form-data; filename=\"f.jpg\"\r\n\r\nabc\r\n--XyZ--\r\n"), 400, "INVALID_REQUEST"),
		mp("part header 20 kB", []byte("--XyZ\r\nContent-Disposition: form-data; name=\"source\"\r\nX-Pad: "+strings.Repeat("p", 20000)+"\r\n\r\nabc\r\n--XyZ--\r\n"), 415, "UNSUPPORTED_MEDIA"), // a legal header; "abc" is no image
		mp("no parts at all", []byte("--XyZ--\r\n"), 400, "INVALID_REQUEST"),
		mp("not multipart at all", []byte("source=a&target=b"), 400, "INVALID_REQUEST"),
		{name: "multipart: boundary mismatch", contentType: "multipart/form-data; boundary=Other", body: multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}}, true), status: 400, code: "INVALID_REQUEST"},
		mp("unknown field", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"colour", "blue"}}, true), 400, "INVALID_REQUEST"),
		mp("options not JSON", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"options", "{fast"}}, true), 400, "INVALID_REQUEST"),
		mp("option out of range", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"options", `{"detector_size": 100}`}}, true), 400, "INVALID_REQUEST"),
		mp("empty target part", multipartRaw([][2]string{{"source", string(small)}, {"target", ""}}, true), 400, "EMPTY_INPUT"),
		mp("text as target", multipartRaw([][2]string{{"source", string(small)}, {"target", "plain text"}}, true), 415, "UNSUPPORTED_MEDIA"),
		mp("kind gif", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"kind", "gif"}}, true), 400, "INVALID_REQUEST"),
		mp("private webhook", multipartRaw([][2]string{{"source", string(small)}, {"target", string(face)}, {"webhook_url", "http://192.168.1.1/hook"}}, true), 400, "URL_BLOCKED"),
		mp("nine sources", multipartRaw(append(func() (p [][2]string) {
			for i := 0; i < 9; i++ {
				p = append(p, [2]string{"source", string(small)})
			}
			return
		}(), [2]string{"target", string(face)}), true), 400, "INVALID_REQUEST"),

		// Every option out of range.
		opt("face_selector", "everyone"), opt("face_order", "random"),
		opt("reference_distance", 0), opt("reference_distance", 1.5), opt("reference_face_position", -1),
		opt("target_indexes", []int{-2}), opt("target_indexes", []int{256}), opt("source_indexes", []int{-5}),
		opt("detector_size", 100), opt("detector_size", 650), opt("detector_size", 1312),
		opt("detector_score", -0.1), opt("detector_score", 1),
		opt("mask_blur", -0.5), opt("mask_blur", 1.5),
		opt("mask_padding", []float64{1, 2, 3}), opt("mask_padding", []float64{0, 0, 0, 101}), opt("mask_padding", []float64{-1, 0, 0, 0}),
		opt("enhancer", "gfpgan_9"), opt("enhancer_blend", 101), opt("enhancer_blend", -1),
		{name: "enhancer no worker offers", body: withOpts(small, face, map[string]any{"enhancer": "gpen_bfr_512"}), status: 400, code: "UNSUPPORTED_OPTION"},
		opt("codeformer_weight", 2), opt("codeformer_weight", -0.5),
		opt("output_format", "gif"), opt("jpeg_quality", 101), opt("jpeg_quality", -1),
		opt("video_encoder", "vp9"), opt("video_quality", 101), opt("video_quality", -1),
		inv("option index lists that do not pair", withOpts(small, face, map[string]any{"source_indexes": []int{0, 1}, "target_indexes": []int{0, 1, 2}})),

		// Upload keys.
		{name: "key: another tenant's upload", body: job(map[string]any{"target": map[string]string{"key": otherUpload}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own, never uploaded", body: job(map[string]any{"target": map[string]string{"key": unused.Key}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, made up", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + "0000-made-up"}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own upload, text", body: job(map[string]any{"target": map[string]string{"key": textUpload}}), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "key: own upload as the other tenant", key: "sk_test_other", body: job(map[string]any{"target": map[string]string{"key": ownUpload}}), status: 400, code: "INPUT_NOT_FOUND"},
		inv("key: path traversal", job(map[string]any{"target": map[string]string{"key": ownPrefix + "../" + otherUpload[len("uploads/"):]}})),
		inv("key: traversal out of uploads", job(map[string]any{"target": map[string]string{"key": "uploads/../jobs/x/output.jpg"}})),
		inv("key: a job's output", job(map[string]any{"target": map[string]string{"key": "jobs/0190c0de-0000-7000-8000-000000000000/output.jpg"}})),
		inv("key: absolute path", job(map[string]any{"target": map[string]string{"key": "/etc/passwd"}})),
		{name: "key: own prefix, 2000 characters", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + strings.Repeat("a", 2000)}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, double slash", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + "a//b"}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, NUL", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + "a\x00b"}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, backslash", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + "a\\b"}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, dot", body: job(map[string]any{"target": map[string]string{"key": ownPrefix + "."}}), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, invalid UTF-8", body: []byte(`{"source": {"base64": "` + b64(small) + `"}, "target": {"key": "` + ownPrefix + "\xff\xfe" + `"}}`), status: 400, code: "INPUT_NOT_FOUND"},
		{name: "key: own prefix, empty name", body: job(map[string]any{"target": map[string]string{"key": ownPrefix}}), status: 400, code: "INPUT_NOT_FOUND"},

		// RunPod /run input schemas: 400 in RunPod's shape, naming the field.
		rp("body not JSON", `{"input":`, "not a valid RunPod request"),
		rp("no input", `{}`, "input is required"),
		rp("input is a string", `{"input": "swap"}`, "JSON object"),
		rp("input matches no schema", `{"input": {"image": "x"}}`, "neither accepted schema"),
		rp("process_type gif", `{"input": {"process_type": "gif", "source_file": "x", "target_file": "y"}}`, "process_type"),
		rp("source_file missing", `{"input": {"process_type": "single_image", "target_file": "`+b64(face)+`"}}`, "source_file"),
		rp("source_file ftp", `{"input": {"source_file": "ftp://example.com/a.jpg", "target_file": "`+b64(face)+`"}}`, "source_file"),
		rp("data URL without base64", `{"input": {"source_file": "data:image/jpeg,abc", "target_file": "`+b64(face)+`"}}`, "source_file"),
		rp("source_file a number", `{"input": {"source_file": 5, "target_file": "`+b64(face)+`"}}`, "source_file"),
		rp("options not an object", `{"input": {"source_file": "`+b64(small)+`", "target_file": "`+b64(face)+`", "options": 5}}`, "options"),
		rp("mouth_mask maybe", `{"input": {"source_file": "`+b64(small)+`", "target_file": "`+b64(face)+`", "options": {"mouth_mask": "maybe"}}}`, "mouth_mask"),
		rp("source_image bad base64", `{"input": {"source_image": "!!!!", "target_image": "`+b64(face)+`"}}`, "base64"),
		rp("target_indexes letters", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "target_indexes": "a,b"}}`, "target_indexes"),
		rp("target_indexes 300", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "target_indexes": "300"}}`, "target_indexes"),
		rp("index lists that do not pair", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "source_indexes": "0,1", "target_indexes": "0,1,2"}}`, "source_indexes"),
		rp("codeformer_fidelity 2", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "codeformer_fidelity": 2}}`, "codeformer_fidelity"),
		rp("face_mask_blur x", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "face_mask_blur": "x"}}`, "face_mask_blur"),
		rp("face_mask_padding two values", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "face_mask_padding": "1,2"}}`, "face_mask_padding"),
		rp("face_selector_mode all", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "face_selector_mode": "all"}}`, "face_selector_mode"),
		rp("upscale half", `{"input": {"source_image": "`+b64(small)+`", "target_image": "`+b64(face)+`", "upscale": 0.5}}`, "upscale"),
		rp("executionTimeout negative", `{"input": {"process_type": "probe"}, "policy": {"executionTimeout": -5}}`, "executionTimeout"),
		rp("executionTimeout a string", `{"input": {"process_type": "probe"}, "policy": {"executionTimeout": "soon"}}`, "executionTimeout"),
		{name: "runpod: text as target", path: rpBase + "/run", body: []byte(`{"input": {"source_image": "` + b64(small) + `", "target_image": "` + b64([]byte("not an image at all")) + `"}}`), status: 415, code: "JPEG"},

		// Hostile files refused at submit, from the header alone.
		{name: "file: PNG bomb 60000x60000", body: job(map[string]any{"target": in(pngBomb(60000, 60000))}), status: 413, code: "IMAGE_TOO_LARGE"},
		{name: "file: PNG bomb 4Gx4G", body: job(map[string]any{"source": in(pngBomb(1<<31-1, 1<<31-1))}), status: 413, code: "IMAGE_TOO_LARGE"},
		{name: "file: JPEG declaring 65000x65000", body: job(map[string]any{"target": in(jpegDeclaring(t, face, 65000, 65000))}), status: 413, code: "IMAGE_TOO_LARGE"},
		{name: "file: JPEG declaring 0x0", body: job(map[string]any{"target": in(jpegDeclaring(t, face, 0, 0))}), status: 422, code: "CORRUPT_INPUT"},
		{name: "file: PNG declaring 0x0", body: job(map[string]any{"target": in(pngBomb(0, 0))}), status: 422, code: "CORRUPT_INPUT"},
		{name: "file: PNG cut in its header", body: job(map[string]any{"target": in(facePNG[:20])}), status: 422, code: "CORRUPT_INPUT"},
		{name: "file: JPEG cut in its header", body: job(map[string]any{"target": in(face[:30])}), status: 422, code: "CORRUPT_INPUT"},
		{name: "file: PNG signature, JPEG inside", body: job(map[string]any{"target": in(append([]byte("\x89PNG\r\n\x1a\n"), face...))}), status: 422, code: "CORRUPT_INPUT"},
		{name: "file: GIF89a polyglot with a JPEG", body: job(map[string]any{"target": in(append([]byte("GIF89a\x01\x00\x01\x00"), face...))}), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "file: HTML with a JPEG inside", body: job(map[string]any{"target": in(append([]byte("<html><body>"), face...))}), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "file: BMP", body: job(map[string]any{"target": in(append([]byte("BM"), make([]byte, 60)...))}), status: 415, code: "UNSUPPORTED_MEDIA"},
		{name: "file: video as source", body: job(map[string]any{"source": in(readFile(t, "video/five_people_640x480.mp4"))}), status: 415, code: "UNSUPPORTED_MEDIA"},
	}
	if len(cases) < 60 {
		t.Fatalf("the corpus has only %d requests", len(cases))
	}
	for _, c := range cases {
		status, body := c.do(t)
		wrong := status == http.StatusInternalServerError || bytes.HasPrefix(body, []byte(undocumented))
		if wrong {
			t.Errorf("%s: %d %s", c.name, status, body)
			continue
		}
		if strings.HasPrefix(c.path, "/v2/") {
			var e struct{ Error string }
			if status != c.status || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, c.code) {
				t.Errorf("%s: %d %.300s, want %d with %q", c.name, status, body, c.status, c.code)
			}
			continue
		}
		var e apiError
		if status != c.status || json.Unmarshal(body, &e) != nil || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %.300s, want %d %s", c.name, status, body, c.status, c.code)
		}
	}

	// An Idempotency-Key sent again with another request.
	idem := map[string]string{"Idempotency-Key": "corpus-" + fmt.Sprint(len(good))}
	first := corpusReq{name: "idempotency: first", header: idem, body: job(nil), status: 202}
	if status, body := first.do(t); status != http.StatusAccepted {
		t.Fatalf("idempotency first: %d %s", status, body)
	} else {
		var c created
		json.Unmarshal(body, &c)
		good = append(good, c.ID)
	}
	reuse := corpusReq{name: "idempotency: reused", header: idem, body: job(map[string]any{"options": map[string]any{"output_format": "png"}})}
	if status, body := reuse.do(t); status != 422 || !strings.Contains(string(body), "IDEMPOTENCY_KEY_REUSED") {
		t.Errorf("idempotency key reused with another body: %d %s", status, body)
	}

	// Files whose header is fine: accepted, then the worker decides.
	dir := t.TempDir()
	facePath := filepath.Join(dir, "face.png")
	if err := os.WriteFile(facePath, encPNG(t, upright), 0o644); err != nil {
		t.Fatal(err)
	}
	webp := filepath.Join(dir, "face.webp")
	ffmpeg(t, "-i", facePath, "-c:v", "libwebp", "-quality", "90", webp)
	webpBytes, err := os.ReadFile(webp)
	if err != nil {
		t.Fatal(err)
	}
	alpha := convert(upright, image.NewNRGBA(upright.Bounds()))
	for i := 3; i < len(alpha.Pix); i += 4 { // transparent left edge, half-transparent right edge
		x := (i / 4) % alpha.Rect.Dx()
		switch {
		case x < 40:
			alpha.Pix[i] = 0
		case x > 470:
			alpha.Pix[i] = 128
		}
	}
	paletted := image.NewPaletted(upright.Bounds(), palette.Plan9)
	draw.FloydSteinberg.Draw(paletted, paletted.Rect, upright, upright.Bounds().Min)
	exif6 := jpegWithOrientation(t, turn(upright, false), 6)
	badEXIF := jpegWithOrientation(t, upright, 9) // an orientation that does not exist: ignored

	var mp4Head []byte
	whole := readFile(t, "video/five_people_640x480.mp4")
	mp4Head = whole[:64] // ftyp and the start of the next box: sniffed as MP4, unreadable

	accepted := []jobCase{
		{"truncated JPEG target", small, face[:len(face)*6/10], jobs.Failed, "CORRUPT_INPUT", "", nil},
		{"truncated PNG target", small, facePNG[:len(facePNG)*6/10], jobs.Failed, "CORRUPT_INPUT", "", nil},
		{"truncated JPEG source", face[:len(face)/2], face, jobs.Failed, "CORRUPT_INPUT", "", nil},
		{"PNG bomb within the pixel limit, no pixel data", small, pngBomb(1500, 1500), jobs.Failed, "CORRUPT_INPUT", "", nil},
		{"1x1 target", small, encPNG(t, image.NewRGBA(image.Rect(0, 0, 1, 1))), jobs.Failed, "NO_FACE_IN_TARGET", "", nil},
		{"1x1 source", encPNG(t, image.NewGray(image.Rect(0, 0, 1, 1))), face, jobs.Failed, "NO_FACE_IN_SOURCE", "", nil},
		{"3000x8 target", small, grayPNG(t, 3000, 8), jobs.Failed, "NO_FACE_IN_TARGET", "", nil},
		{"8x3000 target", small, grayPNG(t, 8, 3000), jobs.Failed, "NO_FACE_IN_TARGET", "", nil},
		{"MP4 header only", small, mp4Head, jobs.Failed, "UNSUPPORTED_MEDIA", "", nil}, // ffprobe reads it: no video stream
		{"PNG + HTML polyglot", small, append(encPNG(t, upright), []byte("<html><script>alert(1)</script></html>")...), jobs.Succeeded, "", "", nil},
		{"JPEG + ZIP polyglot", small, append(append([]byte{}, face...), []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00zipzipzip")...), jobs.Succeeded, "", "", nil},
		{"CMYK JPEG", small, cmykJPEG(upright, 3), jobs.Succeeded, "", "", nil}, // 1536x1800: under the test's 3 M pixels
		{"16-bit PNG", small, encPNG(t, convert(upright, image.NewRGBA64(upright.Bounds()))), jobs.Succeeded, "", "", nil},
		{"grey JPEG", small, encJPEG(t, convert(upright, image.NewGray(upright.Bounds()))), jobs.Succeeded, "", "", nil},
		{"16-bit grey PNG", small, encPNG(t, convert(upright, image.NewGray16(upright.Bounds()))), jobs.Succeeded, "", "", nil},
		{"PNG with alpha", small, encPNG(t, alpha), jobs.Succeeded, "", "", nil},
		{"paletted PNG", small, encPNG(t, paletted), jobs.Succeeded, "", "", nil},
		{"WebP", webpBytes, face, jobs.Succeeded, "", "", nil},
		{"EXIF orientation 6", small, exif6, jobs.Succeeded, "", "", nil},
		{"EXIF orientation 9 (invalid)", small, badEXIF, jobs.Succeeded, "", "", nil},
	}
	// URL targets the worker fetches: answers that no retry can change.
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/face.jpg", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/text":
			w.Write([]byte("<html>not an image</html>"))
		case "/empty":
		case "/face":
			w.Write(face)
		}
	}))
	defer src.Close()
	srcURL := strings.Replace(src.URL, "127.0.0.1", "localhost", 1)
	for _, c := range []jobCase{
		{name: "url: redirect to ftp", targetURL: srcURL + "/ftp", status: jobs.Failed, code: "FETCH_FAILED"},
		{name: "url: redirect loop", targetURL: srcURL + "/loop", status: jobs.Failed, code: "FETCH_FAILED"},
		{name: "url: port out of range", targetURL: "http://localhost:99999/face.jpg", status: jobs.Failed, code: "FETCH_FAILED"},
		{name: "url: text", targetURL: srcURL + "/text", status: jobs.Failed, code: "UNSUPPORTED_MEDIA"},
		{name: "url: empty body", targetURL: srcURL + "/empty", status: jobs.Failed, code: "EMPTY_INPUT"},
		{name: "url: a face", targetURL: srcURL + "/face", status: jobs.Succeeded},
		// Options valid at submit that the images cannot satisfy.
		{name: "reference_face_position beyond the faces", target: face, opts: map[string]any{"face_selector": "reference", "reference_face_position": 7}, status: jobs.Failed, code: "NO_FACE_IN_TARGET"},
		{name: "target_indexes beyond the faces", target: face, opts: map[string]any{"target_indexes": []int{0, 3}}, status: jobs.Failed, code: "NO_FACE_IN_TARGET"},
		{name: "source_indexes beyond the faces", target: face, opts: map[string]any{"source_indexes": []int{2}, "target_indexes": []int{0}}, status: jobs.Failed, code: "NO_FACE_IN_SOURCE"},
		{name: "video options on an image", target: face, opts: map[string]any{"video_encoder": "libx265", "video_quality": 0}, status: jobs.Succeeded},
	} {
		c.source = small
		accepted = append(accepted, c)
	}
	ids := make([]string, len(accepted))
	for i, c := range accepted {
		if c.targetURL == "" {
			ids[i] = submitJSON(t, c.source, c.target, c.opts)
			continue
		}
		var cr created
		if resp := st.postJSON(t, "/v1/jobs", map[string]any{"source": in(c.source), "target": map[string]string{"url": c.targetURL}}, &cr); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: submit %d %s", c.name, resp.StatusCode, bodyOf(resp))
		}
		ids[i] = cr.ID
	}
	good = append(good, submitJSON(t, facePNG, face, nil), submitJSON(t, small, exif6, map[string]any{"output_format": "png"}))
	for i, c := range accepted {
		j := waitEnd(t, ids[i], time.Minute)
		switch {
		case !j.Status.Terminal():
			t.Errorf("%s: job still %s after %d attempts (last error %+v), want %s %s", c.name, j.Status, j.Attempts, j.Error, c.status, c.code)
		case j.Status != c.status:
			t.Errorf("%s: job %s (error %+v), want %s %s", c.name, j.Status, j.Error, c.status, c.code)
		case c.status == jobs.Failed && (j.Error == nil || j.Error.Code != c.code || j.Attempts != 1):
			t.Errorf("%s: error %+v after %d attempts, want %s at once", c.name, j.Error, j.Attempts, c.code)
		case c.status == jobs.Succeeded && (j.Output == nil || j.Output.Faces != 1):
			t.Errorf("%s: output %+v, want one face swapped", c.name, j.Output)
		}
	}
	for _, id := range good {
		if j := st.waitStatus(t, id, jobs.Succeeded, jobs.Failed); j.Status != jobs.Succeeded || j.Output.Faces != 1 {
			t.Errorf("good job %s beside the corpus: %s %+v", id, j.Status, j.Error)
		}
	}
	t.Logf("%d requests refused at submit, %d files judged by the worker, %d good jobs", len(cases)+1, len(accepted), len(good))
}
