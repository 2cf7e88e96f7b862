package api

import (
	"context"
	"fmt"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// checkShape checks which inputs a submission has for its kind: an analyze job
// takes a target and nothing else; a mapped swap (options.mappings) carries its
// sources and references in its mappings, so it takes a target only too; any other
// swap takes sources and a target (checkCounts).
func checkShape(d *Deps, kind jobs.Kind, opts jobs.Options, sources int, reference, target bool) error {
	switch {
	case kind == jobs.KindAnalyze:
		if sources > 0 || reference {
			return errcode.New(errcode.InvalidRequest, "an analyze job takes a target only: leave out source and reference")
		}
		if len(opts.Mappings) > 0 || opts.Analysis != "" {
			return errcode.New(errcode.InvalidRequest, "options.mappings and options.analysis belong to swaps; an analyze job takes neither")
		}
	case len(opts.Mappings) > 0:
		if sources > 0 || reference {
			return errcode.New(errcode.InvalidRequest, "with options.mappings each mapping carries its own source (and reference): leave out source and reference")
		}
	default:
		return checkCounts(d, sources, target)
	}
	if !target {
		return errcode.New(errcode.InvalidRequest, "a target image or video is required")
	}
	return nil
}

// resolveMappings checks a mapped swap's mappings against the analysis they name
// and stores or checks their inputs, once the job's target is resolved (the
// analysis must have looked at the same target). The codes, in the order they are
// checked: ANALYSIS_NOT_FOUND (no such analyze job of this key: another key's looks
// exactly the same), ANALYSIS_NOT_READY (it has not succeeded), ANALYSIS_TARGET_MISMATCH
// (it analysed another target), UNKNOWN_IDENTITY (a mapping names a person it does
// not have). A mapping without a source (MAPPING_WITHOUT_SOURCE) was refused with
// the options (jobs.Options.Validate).
func resolveMappings(ctx context.Context, d *Deps, job *jobs.Job) error {
	o := &job.Options
	if len(o.Mappings) == 0 {
		return nil
	}
	if job.Kind != jobs.KindImage && job.Kind != jobs.KindVideo {
		return errcode.New(errcode.InvalidRequest, "options.mappings apply to image and video swaps, not %s jobs", job.Kind)
	}
	var analysis *jobs.Analysis
	if o.Analysis != "" {
		a, err := tasks.LoadAnalysis(ctx, d.Jobs, job.Owner, o.Analysis)
		if err != nil {
			return err
		}
		if !jobs.SameInput(a.Target, job.Target) {
			return errcode.New(errcode.AnalysisTargetMismatch, "options.analysis: analyze job %s looked at another target than this job's (the same upload key, URL or file content is needed)", a.ID)
		}
		analysis = a.Output.Analysis
	}
	for i, m := range o.Mappings {
		if m.Face != nil && analysis != nil && analysis.Media != "image" {
			return errcode.New(errcode.InvalidRequest, "options.mappings[%d]: face indexes name the faces of an image analysis; map a video's people by identity", i)
		}
		if (m.Identity != "" || m.Face != nil) && analysis != nil {
			if _, ok := analysis.IdentityOf(m); !ok {
				return errcode.New(errcode.UnknownIdentity, "options.mappings[%d]: analysis %s has no %s (it has %d identities)", i, o.Analysis, mappingName(m), len(analysis.Identities))
			}
		}
		if len(m.Source) > d.MaxSources {
			return errcode.New(errcode.InvalidRequest, "options.mappings[%d]: %d sources; the limit is %d", i, len(m.Source), d.MaxSources)
		}
	}
	for i := range o.Mappings {
		m := &o.Mappings[i]
		if m.Reference != nil {
			in, err := resolveMappingInput(ctx, d, job.ID, fmt.Sprintf("mapping-%d-reference", i), *m.Reference)
			if err != nil {
				return err
			}
			m.Reference = &in
		}
		for k, s := range m.Source {
			in, err := resolveMappingInput(ctx, d, job.ID, fmt.Sprintf("mapping-%d-source-%d", i, k), s)
			if err != nil {
				return err
			}
			m.Source[k] = in
		}
	}
	return nil
}

// resolveMappingInput checks one input of a mapping as a client gave it: an upload
// key or a URL (the record's other fields are swapd's to fill in), resolved like a
// source.
func resolveMappingInput(ctx context.Context, d *Deps, jobID, name string, in jobs.Input) (jobs.Input, error) {
	if in.ContentType != "" || in.Size != 0 || in.SHA256 != "" {
		return jobs.Input{}, errcode.New(errcode.InvalidRequest, "%s: a mapping's input is an object with key (from POST /v1/uploads) or url", name)
	}
	return resolveInputStreamed(ctx, d, jobID, name, Input{Key: in.Key, URL: in.URL}, nil)
}

// mappingName says which person a mapping by identity or face names.
func mappingName(m jobs.Mapping) string {
	if m.Face != nil {
		return fmt.Sprintf("face %d", *m.Face)
	}
	return fmt.Sprintf("identity %q", m.Identity)
}
