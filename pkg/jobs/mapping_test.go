package jobs_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

func face(i int) *int { return &i }

var src = []jobs.Input{{URL: "https://example.com/s.jpg"}}

// Each mapping option that needs nothing but the options is checked here, with
// its code; what needs the analysis record is the API's (pkg/api mappings_test.go).
func TestMappingOptionsValidate(t *testing.T) {
	ok := []jobs.Options{
		{},
		{AnalyzeStride: 1}, {AnalyzeStride: 30}, {TrackHold: face(0)}, {TrackHold: face(jobs.MaxTrackHold)},
		{Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}, {Identity: "person-2", Source: src}}},
		{Analysis: "a", Mappings: []jobs.Mapping{{Face: face(0), Source: src}, {Face: face(1), Source: src}}, Unmapped: "blur"},
		{Mappings: []jobs.Mapping{{Reference: &jobs.Input{URL: "https://example.com/r.jpg"}, Source: src}}, Unmapped: "keep"},
	}
	for i, o := range ok {
		if err := o.Validate(); err != nil {
			t.Errorf("ok %d: %v", i, err)
		}
	}
	many := make([]jobs.Mapping, jobs.MaxMappings+1)
	for i := range many {
		many[i] = jobs.Mapping{Face: face(i), Source: src}
	}
	for name, c := range map[string]struct {
		o    jobs.Options
		code string
	}{
		"stride negative":       {jobs.Options{AnalyzeStride: -1}, errcode.InvalidRequest},
		"stride too large":      {jobs.Options{AnalyzeStride: 31}, errcode.InvalidRequest},
		"track hold too long":   {jobs.Options{TrackHold: face(jobs.MaxTrackHold + 1)}, errcode.InvalidRequest},
		"track hold negative":   {jobs.Options{TrackHold: face(-1)}, errcode.InvalidRequest},
		"unmapped unknown":      {jobs.Options{Unmapped: "hide", Mappings: []jobs.Mapping{{Reference: &jobs.Input{URL: "https://e/r"}, Source: src}}}, errcode.InvalidRequest},
		"unmapped alone":        {jobs.Options{Unmapped: "blur"}, errcode.InvalidRequest},
		"analysis alone":        {jobs.Options{Analysis: "a"}, errcode.InvalidRequest},
		"no source":             {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1"}}}, errcode.MappingWithoutSource},
		"empty source list":     {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: []jobs.Input{}}}}, errcode.MappingWithoutSource},
		"identity and face":     {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Face: face(0), Source: src}}}, errcode.InvalidRequest},
		"nobody":                {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Source: src}}}, errcode.InvalidRequest},
		"identity, no analysis": {jobs.Options{Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}}}, errcode.InvalidRequest},
		"face, no analysis":     {jobs.Options{Mappings: []jobs.Mapping{{Face: face(0), Source: src}}}, errcode.InvalidRequest},
		"face negative":         {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Face: face(-1), Source: src}}}, errcode.InvalidRequest},
		"identity twice":        {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}, {Identity: "person-1", Source: src}}}, errcode.InvalidRequest},
		"face twice":            {jobs.Options{Analysis: "a", Mappings: []jobs.Mapping{{Face: face(2), Source: src}, {Face: face(2), Source: src}}}, errcode.InvalidRequest},
		"too many":              {jobs.Options{Analysis: "a", Mappings: many}, errcode.InvalidRequest},
		"with face_selector":    {jobs.Options{FaceSelector: "many", Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}}}, errcode.InvalidRequest},
		"with target_indexes":   {jobs.Options{TargetIndexes: []int{0}, Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}}}, errcode.InvalidRequest},
		"with reference_face":   {jobs.Options{ReferenceFacePosition: 1, Analysis: "a", Mappings: []jobs.Mapping{{Identity: "person-1", Source: src}}}, errcode.InvalidRequest},
		"reference without src": {jobs.Options{Mappings: []jobs.Mapping{{Reference: &jobs.Input{URL: "https://e/r"}}}}, errcode.MappingWithoutSource},
	} {
		err := c.o.Validate()
		if err == nil || errcode.Code(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func TestSameInput(t *testing.T) {
	for _, c := range []struct {
		a, b jobs.Input
		same bool
	}{
		{jobs.Input{Key: "uploads/o/1"}, jobs.Input{Key: "uploads/o/1"}, true},
		{jobs.Input{Key: "uploads/o/1"}, jobs.Input{Key: "uploads/o/2"}, false},
		{jobs.Input{URL: "https://e/a.mp4"}, jobs.Input{URL: "https://e/a.mp4"}, true},
		{jobs.Input{URL: "https://e/a.mp4"}, jobs.Input{URL: "https://e/b.mp4"}, false},
		// Stored copies of the same bytes under each job's own key.
		{jobs.Input{Key: "jobs/1/target", SHA256: "ab"}, jobs.Input{Key: "jobs/2/target", SHA256: "ab"}, true},
		{jobs.Input{Key: "jobs/1/target", SHA256: "ab"}, jobs.Input{Key: "jobs/2/target", SHA256: "cd"}, false},
		{jobs.Input{Key: "uploads/o/1"}, jobs.Input{URL: "https://e/a.mp4"}, false},
		{jobs.Input{}, jobs.Input{}, false},
	} {
		if got := jobs.SameInput(c.a, c.b); got != c.same || jobs.SameInput(c.b, c.a) != c.same {
			t.Errorf("SameInput(%+v, %+v) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}

func TestEmbeddingEncoding(t *testing.T) {
	v := []float32{0.25, -1, 3.5e-8, 0}
	got, err := jobs.DecodeEmbedding(jobs.EncodeEmbedding(v))
	if err != nil || len(got) != len(v) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("round trip %v -> %v", v, got)
		}
	}
	for _, bad := range []string{"", "!!", "AAA="} {
		if _, err := jobs.DecodeEmbedding(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestIdentityOf(t *testing.T) {
	a := &jobs.Analysis{Media: "image", Identities: []jobs.Identity{{ID: "person-1", Face: face(0)}, {ID: "person-2", Face: face(1)}}}
	if id, ok := a.IdentityOf(jobs.Mapping{Identity: "person-2"}); !ok || id.ID != "person-2" {
		t.Errorf("by id: %+v %v", id, ok)
	}
	if id, ok := a.IdentityOf(jobs.Mapping{Face: face(1)}); !ok || id.ID != "person-2" {
		t.Errorf("by face: %+v %v", id, ok)
	}
	for _, m := range []jobs.Mapping{{Identity: "person-3"}, {Identity: "PERSON-1"}, {Face: face(2)}, {}} {
		if _, ok := a.IdentityOf(m); ok {
			t.Errorf("%+v found", m)
		}
	}
	if _, ok := (*jobs.Analysis)(nil).IdentityOf(jobs.Mapping{Identity: "person-1"}); ok {
		t.Error("nil analysis has identities")
	}
}

type fakePresigner struct{}

func (fakePresigner) PresignGet(_ context.Context, key string, _ time.Duration, _ string) (string, error) {
	return "https://s3.example/" + key + "?sig", nil
}

// An analysis's embeddings are kept in the record but appear in no JSON of the
// job unless asked for (WithEmbeddings); its thumbnails get presigned URLs.
func TestAnalysisRecord(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	j := &jobs.Job{ID: "an1", Kind: jobs.KindAnalyze, Owner: "o", CreatedAt: time.Now().UTC(), Target: jobs.Input{Key: "jobs/an1/target", SHA256: "ff"}}
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	emb := jobs.EncodeEmbedding([]float32{1, 0})
	out := &jobs.Output{Key: jobs.AnalysisKey(j.ID), ContentType: "application/json", Size: 10, Faces: 1,
		Analysis: &jobs.Analysis{Media: "image",
			Faces:      []jobs.AnalyzedFace{{Index: 0, Identity: "person-1", Thumbnail: jobs.Thumbnail{Key: jobs.ThumbnailKey(j.ID, "face-0"), Width: 10, Height: 12}}},
			Identities: []jobs.Identity{{ID: "person-1", Face: face(0), Frames: 1, Tracks: 1, Thumbnail: jobs.Thumbnail{Key: jobs.ThumbnailKey(j.ID, "person-1"), Width: 10, Height: 12}}}},
		Embeddings: map[string]string{"person-1": emb}}
	if _, err := s.Succeed(ctx, j.ID, out, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Output == nil || got.Output.Embeddings["person-1"] != emb || got.Output.Analysis == nil || len(got.Output.Analysis.Identities) != 1 {
		t.Fatalf("record output %+v", got.Output)
	}
	if got.Target.SHA256 != "ff" {
		t.Errorf("target sha256 %q not kept", got.Target.SHA256)
	}
	b, _ := json.Marshal(jobs.Present(ctx, fakePresigner{}, got, time.Minute))
	if strings.Contains(string(b), emb) || strings.Contains(string(b), `"embedding"`) {
		t.Errorf("job JSON carries the embedding: %s", b)
	}
	for _, k := range []string{jobs.ThumbnailKey(j.ID, "face-0"), jobs.ThumbnailKey(j.ID, "person-1")} {
		if !strings.Contains(string(b), `"url":"https://s3.example/`+k+`?sig"`) {
			t.Errorf("no presigned URL for %s in %s", k, b)
		}
		if !strings.HasPrefix(k, jobs.OutputPrefix(j.ID)) {
			t.Errorf("thumbnail %s is outside the output prefix (a canceled attempt's would stay)", k)
		}
	}
	got.Output.WithEmbeddings()
	if b, _ := json.Marshal(got); !strings.Contains(string(b), `"embedding":"`+emb+`"`) {
		t.Errorf("WithEmbeddings: %s", b)
	}
}
