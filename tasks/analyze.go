package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

// An analyze job (jobs.KindAnalyze) travels the same path as a swap: the queue, a
// device slot, the record, progress, cancel and the webhook. What it
// does differs: it detects and embeds the faces of its target (an image: every face,
// left to right; a video: faces tracked and clustered into people) and changes
// nothing. Its thumbnails and its result (as JSON) are stored under the output's
// prefix, so they are deleted with the job and expire with it; the identities' mean
// embeddings go into the record (jobs.Output.Embeddings), never into what a client
// sees unless it asks, for the swaps that map them (mapping.go).

// Analyzer is the part of a device's pipeline analyze jobs use. It is its own
// interface, not part of Pipeline, so a Pipeline that cannot analyze (a test's
// stand-in) still runs swaps; an analyze job on one fails as UNSUPPORTED_OPTION.
type Analyzer interface {
	// AnalyzeImage returns every face of target, left to right; each face is its own
	// identity.
	AnalyzeImage(ctx context.Context, target media.Frame, opts jobs.Options, stages map[string]time.Duration) (Analysis, error)
	// AnalyzeVideo detects faces on every opts.AnalyzeStride-th frame, tracks and
	// clusters them into identities; progress gets the frames read so far.
	AnalyzeVideo(ctx context.Context, r FrameReader, opts jobs.Options, progress func(done int), stages map[string]time.Duration) (Analysis, error)
}

// Analysis is what an Analyzer found: the result as clients see it, without its
// thumbnails' keys and the embeddings, which come alongside.
type Analysis struct {
	Result         jobs.Analysis
	FaceThumbs     []media.Frame // one per Result.Faces
	IdentityThumbs []media.Frame // one per Result.Identities
	Embeddings     [][]float32   // one per Result.Identities
}

// thumbQuality is the JPEG quality of thumbnails: small files, faces still clear.
const thumbQuality = 85

// runAnalyze runs an analyze job on an image or a video target. A URL target's kind
// is known only once fetched: it is fetched to a file and sniffed.
func (h *SwapHandler) runAnalyze(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	dir, err := os.MkdirTemp("", "swapd-"+job.ID+"-")
	if err != nil {
		return nil, st, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "target")
	limit := h.Limits.MaxBytes
	if job.Target.ContentType == "" || strings.HasPrefix(job.Target.ContentType, "video/") {
		limit = max(limit, h.Video.MaxBytes)
	}
	t0 := time.Now()
	n, err := h.Fetcher.FetchToFile(ctx, job.Target, src, limit)
	st.since("fetch", t0)
	if err != nil {
		return nil, st, inputErr("target", err)
	}
	video, err := sniffVideo(src)
	if err != nil {
		return nil, st, err
	}
	var res Analysis
	if video {
		res, err = h.analyzeVideo(ctx, job, src, st)
	} else {
		if n > h.Limits.MaxBytes {
			return nil, st, errcode.New(errcode.InputTooLarge, "target: the image is larger than the %d byte limit", h.Limits.MaxBytes)
		}
		res, err = h.analyzeImage(ctx, job, src, st)
	}
	if err != nil {
		return nil, st, err
	}
	return h.storeAnalysis(ctx, job, res, st)
}

// sniffVideo reports whether the file at path starts like a video container.
func sniffVideo(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, media.HeaderBytes)
	k, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, fmt.Errorf("read target: %w", err)
	}
	_, ok := media.SniffVideo(head[:k])
	return ok, nil
}

// analyzer returns pipe's Analyzer, or an error that no retry fixes.
func analyzer(pipe Pipeline) (Analyzer, error) {
	a, ok := pipe.(Analyzer)
	if !ok {
		return nil, errcode.New(errcode.UnsupportedOption, "this worker's pipeline cannot analyze faces")
	}
	return a, nil
}

// analyzeImage is the image part of an analyze job: 4 steps (read, decode, analyze,
// store), like an image swap's progress.
func (h *SwapHandler) analyzeImage(ctx context.Context, job *jobs.Job, path string, st stageTimer) (Analysis, error) {
	progress := h.progressFunc(ctx, job.ID, 4)
	progress(0)
	b, err := os.ReadFile(path)
	if err != nil {
		return Analysis{}, err
	}
	lease, err := h.Memory.Reserve(ctx, b)
	if err != nil {
		return Analysis{}, err
	}
	defer lease.Release()
	t0 := time.Now()
	target, _, err := media.Decode(bytes.NewReader(b), h.Limits)
	st.since("decode", t0)
	if err != nil {
		return Analysis{}, inputErr("target", err)
	}
	progress(1)
	pipe, release, err := h.acquire(ctx, st)
	if err != nil {
		return Analysis{}, err
	}
	a, err := analyzer(pipe)
	if err != nil {
		release()
		return Analysis{}, err
	}
	times := map[string]time.Duration{}
	res, err := a.AnalyzeImage(ctx, target, job.Options, times)
	release()
	st.addAll(times)
	if errcode.Code(err) == errcode.NoFaceInTarget {
		// No face is an answer here, not a failure: an empty analysis.
		res, err = Analysis{}, nil
	}
	if err != nil {
		return Analysis{}, inputErr("target", err)
	}
	res.Result.Media = "image"
	progress(2)
	return res, nil
}

// analyzeVideo is the video part of an analyze job: probed and checked against the
// video limits like a video swap, decoded frame by frame (HDR tone-mapped unless
// options.video_hdr says keep), progress counted in frames read.
func (h *SwapHandler) analyzeVideo(ctx context.Context, job *jobs.Job, path string, st stageTimer) (Analysis, error) {
	t0 := time.Now()
	info, err := media.Probe(ctx, path)
	st.since("probe", t0)
	if err != nil {
		return Analysis{}, inputErr("target", err)
	}
	if err := h.Video.Check(info); err != nil {
		return Analysis{}, inputErr("target", err)
	}
	pipe, release, err := h.acquire(ctx, st)
	if err != nil {
		return Analysis{}, err
	}
	defer release()
	a, err := analyzer(pipe)
	if err != nil {
		return Analysis{}, err
	}
	dec, err := media.NewDecoderHDR(ctx, path, info, job.Options.VideoHDR)
	if err != nil {
		return Analysis{}, err
	}
	defer dec.Close()
	progress := h.progressFunc(ctx, job.ID, info.Frames)
	progress(0)
	times := map[string]time.Duration{}
	res, err := a.AnalyzeVideo(ctx, dec, job.Options, progress, times)
	st.addAll(times)
	if err != nil {
		return Analysis{}, inputErr("target", err)
	}
	release()
	h.Metrics.Frames(res.Result.Frames)
	progress(res.Result.Frames)
	res.Result.Media = "video"
	return res, nil
}

// storeAnalysis uploads the thumbnails and the result, and returns the output that
// the record keeps: the result with the thumbnails' keys, and the embeddings.
func (h *SwapHandler) storeAnalysis(ctx context.Context, job *jobs.Job, res Analysis, st stageTimer) (*jobs.Output, map[string]float64, error) {
	a := res.Result
	if a.Identities == nil {
		a.Identities = []jobs.Identity{}
	}
	put := func(name string, f media.Frame) (jobs.Thumbnail, error) {
		if f.Width == 0 || f.Height == 0 {
			return jobs.Thumbnail{}, nil
		}
		t0 := time.Now()
		var buf bytes.Buffer
		ct, err := media.Encode(&buf, f, "jpeg", thumbQuality)
		st.since("encode", t0)
		if err != nil {
			return jobs.Thumbnail{}, fmt.Errorf("encode thumbnail %s: %w", name, err)
		}
		key := jobs.ThumbnailKey(job.ID, name)
		t0 = time.Now()
		_, err = h.Store.Put(ctx, key, &buf, int64(buf.Len()), ct)
		st.since("upload", t0)
		if err != nil {
			return jobs.Thumbnail{}, fmt.Errorf("upload thumbnail %s: %w", name, err)
		}
		return jobs.Thumbnail{Key: key, Width: f.Width, Height: f.Height}, nil
	}
	var err error
	for i := range a.Faces {
		if i < len(res.FaceThumbs) {
			if a.Faces[i].Thumbnail, err = put(fmt.Sprintf("face-%d", a.Faces[i].Index), res.FaceThumbs[i]); err != nil {
				return nil, st, err
			}
		}
	}
	embs := map[string]string{}
	for i := range a.Identities {
		id := &a.Identities[i]
		if i < len(res.IdentityThumbs) {
			if id.Thumbnail, err = put(id.ID, res.IdentityThumbs[i]); err != nil {
				return nil, st, err
			}
		}
		if i < len(res.Embeddings) && len(res.Embeddings[i]) > 0 {
			embs[id.ID] = jobs.EncodeEmbedding(res.Embeddings[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, st, fmt.Errorf("encode analysis: %w", err)
	}
	key := jobs.AnalysisKey(job.ID)
	t0 := time.Now()
	obj, err := h.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), "application/json")
	st.since("upload", t0)
	if err != nil {
		return nil, st, fmt.Errorf("upload analysis: %w", err)
	}
	out := &jobs.Output{Key: key, ContentType: "application/json", Size: obj.Size, Faces: len(a.Faces),
		Frames: a.Frames, NoFace: len(a.Identities) == 0, Analysis: &a, Embeddings: embs}
	if a.Media == "video" {
		out.Faces = len(a.Identities)
	}
	if a.Media == "image" {
		h.progressFunc(ctx, job.ID, 4)(4)
	}
	return out, st, nil
}
