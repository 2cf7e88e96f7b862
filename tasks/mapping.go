package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

// mappedIdentity resolves a mapped swap's options.mappings into what the pipeline
// needs: for each person, the embedding that picks them (an analysis identity's
// mean embedding, read from the analyze job's record, or the largest face of a
// reference image) and the averaged embedding of their sources (through the
// embedding cache, like any job's sources).
//
// The API checked the analysis when the job was submitted; it is read again here
// because it may have been deleted or have expired since, which fails the job
// (ANALYSIS_NOT_FOUND) rather than swapping the wrong people.
func (h *SwapHandler) mappedIdentity(ctx context.Context, job *jobs.Job, pipe Pipeline, in fetched,
	decode func([]byte, string) (media.Frame, error), times map[string]time.Duration) (Identity, error) {
	id := Identity{Unmapped: job.Options.Unmapped}
	var analysis *jobs.Job
	if job.Options.Analysis != "" {
		a, err := LoadAnalysis(ctx, h.Jobs, job.Owner, job.Options.Analysis)
		if err != nil {
			return id, err
		}
		analysis = a
	}
	for i, m := range job.Options.Mappings {
		if i >= len(in.mappings) {
			return id, fmt.Errorf("mapping %d: inputs not fetched", i)
		}
		var mp Mapping
		if m.Reference != nil {
			f, err := decode(in.mappings[i].reference, fmt.Sprintf("mapping %d reference", i))
			if err != nil {
				return id, err
			}
			if mp.Reference, err = pipe.EmbedLargest(ctx, f, job.Options, times); err != nil {
				return id, inputErr(fmt.Sprintf("mapping %d reference", i), err)
			}
		} else {
			if analysis == nil {
				return id, errcode.New(errcode.InvalidRequest, "options.mappings[%d] names an analysed person: options.analysis must name the analyze job", i)
			}
			person, ok := analysis.Output.Analysis.IdentityOf(m)
			if !ok {
				return id, errcode.New(errcode.UnknownIdentity, "options.mappings[%d]: analysis %s has no %s", i, analysis.ID, mappingName(m))
			}
			e, err := jobs.DecodeEmbedding(analysis.Output.Embeddings[person.ID])
			if err != nil {
				return id, fmt.Errorf("analysis %s identity %s: %w", analysis.ID, person.ID, err)
			}
			mp.Reference = e
		}
		var err error
		if mp.Source, err = h.sourceIdentity(ctx, pipe, job.Options, in.mappings[i].sources, fmt.Sprintf("mapping %d source", i), decode, times); err != nil {
			return id, err
		}
		id.Mappings = append(id.Mappings, mp)
	}
	return id, nil
}

// mappingName says which person a mapping by identity or face names.
func mappingName(m jobs.Mapping) string {
	if m.Face != nil {
		return fmt.Sprintf("face %d", *m.Face)
	}
	return fmt.Sprintf("identity %q", m.Identity)
}

// LoadAnalysis reads owner's analyze job id for a mapped swap: the API when a swap
// is submitted, the worker when it runs. Another key's job, a job that is not an
// analysis and a missing one all answer ANALYSIS_NOT_FOUND with the same message,
// so a key cannot learn that another key's job exists; one that has not succeeded
// is ANALYSIS_NOT_READY. Other errors (Redis) are returned as they are.
func LoadAnalysis(ctx context.Context, store *jobs.Store, owner, id string) (*jobs.Job, error) {
	notFound := errcode.New(errcode.AnalysisNotFound, "options.analysis: no analyze job %q (it may have expired or been deleted)", id)
	a, err := store.Get(ctx, id)
	if errcode.Code(err) == errcode.NotFound {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if a.Owner != owner || a.Kind != jobs.KindAnalyze {
		return nil, notFound
	}
	if a.Status != jobs.Succeeded || a.Output == nil || a.Output.Analysis == nil {
		return nil, errcode.New(errcode.AnalysisNotReady, "options.analysis: analyze job %s is %s; map its people once it has succeeded", id, a.Status)
	}
	return a, nil
}
