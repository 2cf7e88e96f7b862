package tasks

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

type stageTimer map[string]float64

func (s stageTimer) add(stage string, d time.Duration) { s[stage] += d.Seconds() }

func (s stageTimer) since(stage string, t0 time.Time) { s.add(stage, time.Since(t0)) }

func (s stageTimer) addAll(m map[string]time.Duration) {
	for stage, d := range m {
		s.add(stage, d)
	}
}

// run does the work of one attempt for the job's kind.
func (h *SwapHandler) run(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	switch job.Kind {
	case jobs.KindProbe:
		return h.runProbe(ctx, job)
	case jobs.KindVideo:
		return h.runVideo(ctx, job)
	case jobs.KindAnalyze:
		return h.runAnalyze(ctx, job)
	}
	return h.runImage(ctx, job)
}

// runProbe takes and releases a device slot and does nothing else: the job still goes
// through the API, the queue, the record and the webhook, which is what a synthetic
// health check wants to see. (Its progress becomes 1/1 when it succeeds.)
func (h *SwapHandler) runProbe(ctx context.Context, _ *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	_, release, err := h.acquire(ctx, st)
	if err != nil {
		return nil, st, err
	}
	release()
	return nil, st, nil
}

// progressFunc returns a recorder of done/total for the job. Writes are cheap (one
// HSET) but a video calls it per frame, so it writes at most every 250 ms, and always
// the first and last values.
func (h *SwapHandler) progressFunc(ctx context.Context, id string, total int) func(done int) {
	var last time.Time
	return func(done int) {
		if done != 0 && done != total && time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		if err := h.Jobs.SetProgress(ctx, id, jobs.Progress{Done: done, Total: total}); err != nil && ctx.Err() == nil {
			h.Log.Debug("progress", "job", id, "err", err)
		}
	}
}

// acquire takes a device slot, recording the wait.
func (h *SwapHandler) acquire(ctx context.Context, st stageTimer) (Pipeline, func(), error) {
	t0 := time.Now()
	pipe, release, err := h.Devices.Acquire(ctx)
	st.since("wait_slot", t0)
	return pipe, release, err
}

// fetched holds a job's input bytes (the target only for images; a video target is
// streamed to a file instead).
type fetched struct {
	sources   [][]byte
	reference []byte
	target    []byte
	mappings  []fetchedMapping // options.mappings, in order
}

// fetchedMapping is one mapping's input bytes.
type fetchedMapping struct {
	reference []byte // nil for a mapping by identity or face
	sources   [][]byte
}

// faceImages are the images the job decodes for their faces (not the target), for
// the memory budget.
func (f fetched) faceImages() [][]byte {
	out := append([][]byte{f.reference}, f.sources...)
	for _, m := range f.mappings {
		out = append(append(out, m.reference), m.sources...)
	}
	return out
}

func (h *SwapHandler) fetchInputs(ctx context.Context, job *jobs.Job, st stageTimer) (fetched, error) {
	var f fetched
	get := func(in jobs.Input, name string) ([]byte, error) {
		t0 := time.Now()
		b, err := h.Fetcher.Fetch(ctx, in, h.Limits.MaxBytes)
		st.since("fetch", t0)
		if err != nil {
			return nil, inputErr(name, err)
		}
		return b, nil
	}
	for i, in := range job.Sources {
		b, err := get(in, fmt.Sprintf("source %d", i))
		if err != nil {
			return f, err
		}
		f.sources = append(f.sources, b)
	}
	if job.Reference != nil {
		b, err := get(*job.Reference, "reference")
		if err != nil {
			return f, err
		}
		f.reference = b
	}
	for i, m := range job.Options.Mappings {
		var fm fetchedMapping
		if m.Reference != nil {
			b, err := get(*m.Reference, fmt.Sprintf("mapping %d reference", i))
			if err != nil {
				return f, err
			}
			fm.reference = b
		}
		for k, in := range m.Source {
			b, err := get(in, fmt.Sprintf("mapping %d source %d", i, k))
			if err != nil {
				return f, err
			}
			fm.sources = append(fm.sources, b)
		}
		f.mappings = append(f.mappings, fm)
	}
	if job.Kind != jobs.KindVideo {
		b, err := get(job.Target, "target")
		if err != nil {
			return f, err
		}
		f.target = b
	}
	return f, nil
}

// identity computes what the job swaps in. A source seen before (same bytes) comes
// from the embedding cache without being decoded, detected or recognised.
func (h *SwapHandler) identity(ctx context.Context, job *jobs.Job, pipe Pipeline, in fetched, st stageTimer) (Identity, error) {
	var id Identity
	times := map[string]time.Duration{}
	defer st.addAll(times)
	decode := func(b []byte, name string) (media.Frame, error) {
		t0 := time.Now()
		f, _, err := media.Decode(bytes.NewReader(b), h.Limits)
		st.since("decode", t0)
		return f, inputErr(name, err)
	}
	o := job.Options
	if len(o.Mappings) > 0 {
		return h.mappedIdentity(ctx, job, pipe, in, decode, times)
	}
	if len(o.SourceIndexes) > 0 || len(o.TargetIndexes) > 0 {
		f, err := decode(in.sources[0], "source 0")
		if err != nil {
			return id, err
		}
		if id.Faces, err = pipe.EmbedFaces(ctx, f, o, times); err != nil {
			return id, inputErr("source 0", err)
		}
	}
	var err error
	if id.Embedding, err = h.sourceIdentity(ctx, pipe, o, in.sources, "source", decode, times); err != nil {
		return id, err
	}
	if in.reference != nil {
		f, err := decode(in.reference, "reference")
		if err != nil {
			return id, err
		}
		if id.Reference, err = pipe.EmbedLargest(ctx, f, o, times); err != nil {
			return id, inputErr("reference", err)
		}
	}
	return id, nil
}

// sourceIdentity is the averaged embedding of the largest faces of srcs (named
// "<name> <i>" in errors). A source seen before (same bytes) comes from the embedding
// cache without being decoded, detected or recognised.
func (h *SwapHandler) sourceIdentity(ctx context.Context, pipe Pipeline, o jobs.Options, srcs [][]byte, name string,
	decode func([]byte, string) (media.Frame, error), times map[string]time.Duration) ([]float32, error) {
	embs := make([][]float32, len(srcs))
	for i, b := range srcs {
		hash := ContentHash(b)
		if e, ok := h.Cache.Get(ctx, hash); ok {
			embs[i] = e
			continue
		}
		f, err := decode(b, fmt.Sprintf("%s %d", name, i))
		if err != nil {
			return nil, err
		}
		if embs[i], err = pipe.EmbedLargest(ctx, f, o, times); err != nil {
			return nil, inputErr(fmt.Sprintf("%s %d", name, i), err)
		}
		h.Cache.Put(ctx, hash, embs[i])
	}
	return pipe.Average(embs)
}

// inputErr prefixes a coded error's message with the input it concerns.
func inputErr(name string, err error) error {
	if e, ok := errcode.As(err); ok && !strings.HasPrefix(e.Message, name) {
		return errcode.New(e.Code, "%s: %s", name, e.Message)
	}
	return err
}
