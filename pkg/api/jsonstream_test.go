package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// recordingStore is a streamStore that keeps what it was given, by name.
type recordingStore struct {
	got   map[string][]byte
	names []string
}

func (s *recordingStore) store(name string, r io.Reader) (jobs.Input, error) {
	b, err := io.ReadAll(r)
	if s.got == nil {
		s.got = map[string][]byte{}
	}
	s.got[name] = b
	s.names = append(s.names, name)
	if err != nil {
		return jobs.Input{}, err
	}
	return jobs.Input{Key: "jobs/x/" + name, Size: int64(len(b))}, nil
}

// oldDecode is how a whole body was decoded before streaming, with each input's
// base64 decoded as resolveInput decodes it.
func oldDecode(body []byte) (Submission, []Input, error) {
	var sub Submission
	if err := decodeStrict(body, &sub); err != nil {
		return sub, nil, err
	}
	return sub, inputsOf(sub), nil
}

func inputsOf(sub Submission) []Input {
	var ins []Input
	if len(sub.Source) > 0 && sub.Source[0] == '{' {
		var one Input
		if unmarshalStrict(sub.Source, &one) == nil {
			ins = append(ins, one)
		}
	} else if len(sub.Source) > 0 {
		var list []Input
		_ = unmarshalStrict(sub.Source, &list)
		ins = append(ins, list...)
	}
	if sub.Reference != nil {
		ins = append(ins, *sub.Reference)
	}
	if sub.Target != nil {
		ins = append(ins, *sub.Target)
	}
	return ins
}

func decodeB64(s string) []byte {
	if i := strings.Index(s, ";base64,"); strings.HasPrefix(s, "data:") && i >= 0 {
		s = s[i+len(";base64,"):]
	}
	b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(s)))
	return b
}

// The skeleton decodes exactly when the body does, to the same submission once each
// placeholder is taken for the bytes that were streamed in its place.
func TestScanSubmissionMatchesWholeBodyDecoding(t *testing.T) {
	img := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n some bytes/with+slashes??>>"))
	escaped := strings.ReplaceAll(img, "/", `\/`)
	bodies := []string{
		`{"source": {"base64": "` + img + `"}, "target": {"base64": "` + img + `"}}`,
		`{"source": [{"base64": "` + img + `"}, {"url": "https://example.com/a.jpg"}, {"base64": "` + escaped + `"}], "target": {"key": "uploads/x"}, "reference": {"base64": "data:image/png;base64,` + img + `"}}`,
		"  {\n\t\"Target\" : {\"BASE64\":\"" + img + "\"} , \"SOURCE\":[ {\"b\\u0061se64\": \"" + img + "\" } ] }  \n",
		`{"source": {"base64": ""}, "target": {"base64": null}}`,
		`{"source": {"base64": "` + img + `", "key": "uploads/x"}, "target": {"base64": "` + img + `"}, "options": {"face_selector": "many", "mask_padding": [1,2,3,4]}, "webhook": {"url": "https://example.com/hook"}, "kind": "image"}`,
		`{"target": {"base64": "` + img + `"}, "target": {"base64": "QUJD"}}`,   // the last one counts
		`{"source": {"base64": "QUJD"}, "source": [{"base64": "` + img + `"}]}`, // even across shapes
		`{"source": "` + img + `", "target": {"base64": "QUJD"}}`,               // a string where an input goes
		`{"target": {"base64": "` + img + `", "name": "x.jpg"}}`,                // unknown field in an input
		`{"options": {"base64": "` + img + `"}}`,                                // unknown field in options
		`{"target": {"base64": 5}}`,                                             // a number where base64 goes
		`{"target": [{"base64": "QUJD"}]}`,                                      // a list where one input goes
		`{"target": {"base64": "QUJD"}} {"x": 1}`,                               // a second value
		`{"target": {"base64": "QUJD"}} x`,                                      // trailing garbage
		`{"target": {"base64": "QUJD"}`,                                         // cut short
		`{"target": {"base64": "QUJD"}, "options": {"mask_padding": [1 2]}}`,    // whitespace is not a comma
		`{"target": {"base64" "QUJD"}}`,                                         // no colon
		`{"target": {"base64": "QU\u004aD"}, "source": {"base64": "QUJD\n"}}`,   // escapes in base64
		`["target", {"base64": "QUJD"}]`,                                        // not an object
		`{"source": [[{"base64": "QUJD"}]]}`,                                    // a list of lists
		`{"target": {"url": "https://example.com/\"quoted\"", "base64": "QUJD"}, "kind": "probe"}`,
		`{"target": {"base64": "QUJD"}, "options": {"detector_size": 1e400}}`,
		``,
		`null`,
		`{}`,
	}
	valid, compared := 0, 0
	defer func() {
		t.Logf("%d valid bodies, %d streamed inputs compared", valid, compared)
		if valid < 8 || compared < 10 {
			t.Errorf("only %d valid bodies and %d streamed inputs compared", valid, compared)
		}
	}()
	for _, body := range bodies {
		rs := &recordingStore{}
		res := scanSubmission(strings.NewReader(body), 8, rs.store)
		if res.readErr != nil {
			t.Fatalf("%s: read error %v", body, res.readErr)
		}
		want, wantIns, wantErr := oldDecode([]byte(body))
		var got Submission
		gotErr := res.syntaxErr
		if gotErr == nil {
			gotErr = decodeStrict(res.skeleton, &got)
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s:\n skeleton %s\n error %v, whole body %v", body, res.skeleton, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			if errcode.Code(gotErr) != errcode.InvalidRequest {
				t.Errorf("%s: %v is not INVALID_REQUEST", body, gotErr)
			}
			continue
		}
		valid++
		gotIns := inputsOf(got)
		if len(gotIns) != len(wantIns) {
			t.Errorf("%s: %d inputs, want %d", body, len(gotIns), len(wantIns))
			continue
		}
		for i := range gotIns {
			g, w := gotIns[i], wantIns[i]
			if g.Key != w.Key || g.URL != w.URL || (g.Base64 == "") != (w.Base64 == "") {
				t.Errorf("%s: input %d is %+v, want %+v", body, i, g, w)
				continue
			}
			if w.Base64 == "" {
				continue
			}
			r, ok := res.streamed.take(g.Base64)
			if !ok {
				t.Errorf("%s: input %d: placeholder %q names no streamed value", body, i, g.Base64)
				continue
			}
			compared++
			name := strings.TrimPrefix(r.in.Key, "jobs/x/")
			if !bytes.Equal(rs.got[name], decodeB64(w.Base64)) {
				t.Errorf("%s: input %d: storage got %q, want %q", body, i, rs.got[name], decodeB64(w.Base64))
			}
		}
		got.Source, want.Source = nil, nil
		got.Target, want.Target, got.Reference, want.Reference = nil, nil, nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", body, got, want)
		}
	}
}

// A string value the scanner streams is checked as encoding/json would check it, and
// a fault in it is the body's.
func TestScanSubmissionRefusesBadStrings(t *testing.T) {
	for _, body := range []string{
		"{\"target\": {\"base64\": \"QUJD\x01QUJD\"}}", // a raw control character
		`{"target": {"base64": "QUJD\x41"}}`,           // an escape JSON does not have
		`{"target": {"base64": "QUJD\u00"}}`,           // a short \u escape
		`{"target": {"base64": "QUJDQUJD`,              // the body ends inside the value
		`{"target": {"base64": "QUJDQUJD\`,             // ... inside an escape
	} {
		rs := &recordingStore{}
		res := scanSubmission(strings.NewReader(body), 8, rs.store)
		if errcode.Code(res.syntaxErr) != errcode.InvalidRequest || res.readErr != nil {
			t.Errorf("%s: syntax %v, read %v; want INVALID_REQUEST", body, res.syntaxErr, res.readErr)
		}
		if json.Valid([]byte(body)) {
			t.Errorf("%s: the test body is valid JSON", body)
		}
	}
}

// A body over the limit is a read error (INPUT_TOO_LARGE), also when it goes over
// inside a streamed value, and a body of more than maxSkeleton bytes besides its base64
// is refused without holding it.
func TestScanSubmissionLimits(t *testing.T) {
	big := strings.Repeat("QUJD", 1<<18) // 1 MiB
	rec := httptest.NewRecorder()
	body := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(`{"target": {"base64": "`+big+`"}}`)), 512<<10)
	res := scanSubmission(body, 8, (&recordingStore{}).store)
	var tooBig *http.MaxBytesError
	if !errors.As(res.readErr, &tooBig) || errcode.Code(readError(res.readErr, 512<<10)) != errcode.InputTooLarge {
		t.Errorf("over the body limit inside base64: read error %v", res.readErr)
	}

	res = scanSubmission(strings.NewReader(`{"target": {"url": "https://example.com/`+big+big+`"}}`), 8, (&recordingStore{}).store)
	if errcode.Code(res.syntaxErr) != errcode.InvalidRequest || len(res.skeleton) > maxSkeleton+64 {
		t.Errorf("2 MiB url: syntax error %v, skeleton of %d bytes", res.syntaxErr, len(res.skeleton))
	}

	// Whitespace costs the skeleton one byte a run.
	res = scanSubmission(strings.NewReader(`{"target": {"base64": "QUJD"}}`+strings.Repeat(" \n\t", 1<<20)), 8, (&recordingStore{}).store)
	if res.syntaxErr != nil || len(res.skeleton) > 64 {
		t.Errorf("3 MiB of whitespace: %v, skeleton %q", res.syntaxErr, res.skeleton)
	}

	// Sources past the limit are not stored.
	var list []string
	for range 10 {
		list = append(list, `{"base64": "QUJD"}`)
	}
	rs := &recordingStore{}
	res = scanSubmission(strings.NewReader(`{"source": [`+strings.Join(list, ",")+`]}`), 3, rs.store)
	if res.syntaxErr != nil || fmt.Sprint(rs.names) != "[source-0 source-1 source-2]" || len(res.streamed.list) != 10 {
		t.Errorf("10 sources, limit 3: stored %v, %d results, %v", rs.names, len(res.streamed.list), res.syntaxErr)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// What the handler holds of a base64 input while streaming it stays bounded: every
// time storage takes bytes, the body read so far is within a small buffer of what
// storage has been given (as base64). Reading the body whole first, as before, would
// put the whole 40 MiB input between the two.
func TestScanSubmissionStreamsWithBoundedBuffer(t *testing.T) {
	const size = 40 << 20
	const bound = 256 << 10
	payload := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz+/"), size/38)
	prefix := `{"options": {"face_selector": "many"}, "source": [{"url": "https://example.com/a.jpg"}], "target": {"base64": "`
	body := io.MultiReader(strings.NewReader(prefix),
		strings.NewReader(base64.StdEncoding.EncodeToString(payload)),
		strings.NewReader(`"}, "webhook": {"url": "https://example.com/hook"}}`))
	pulled := &countingReader{r: body}
	var stored, worst int64
	res := scanSubmission(pulled, 8, func(name string, r io.Reader) (jobs.Input, error) {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			stored += int64(n)
			// base64 is 4 bytes for 3; the prefix was read before the value began.
			if gap := pulled.n - int64(len(prefix)) - stored*4/3; gap > worst {
				worst = gap
			}
			if err == io.EOF {
				return jobs.Input{Key: name, Size: stored}, nil
			}
			if err != nil {
				return jobs.Input{}, err
			}
		}
	})
	if res.readErr != nil || res.syntaxErr != nil {
		t.Fatal(res.readErr, res.syntaxErr)
	}
	if stored != int64(len(payload)) {
		t.Fatalf("storage got %d bytes of %d", stored, len(payload))
	}
	if worst > bound {
		t.Fatalf("the body ran %d bytes ahead of storage; the bound is %d", worst, bound)
	}
	var sub Submission
	if err := decodeStrict(res.skeleton, &sub); err != nil || sub.Webhook == nil || sub.Options.FaceSelector != "many" {
		t.Fatalf("skeleton %s: %v %+v", res.skeleton, err, sub)
	}
	t.Logf("40 MiB input: at most %d bytes between the body read and storage", worst)
}
