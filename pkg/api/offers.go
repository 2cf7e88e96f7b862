package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// offersTimeout bounds the Redis lookup checkOffered adds to a submit.
const offersTimeout = 2 * time.Second

// validateOptions is opts.Validate followed by checkOffered: submit's one call
// (setSpec) for both. It returns the queue the job must wait in ("" for the shared
// queues, tasks.JobQueue).
func validateOptions(d *Deps, opts jobs.Options) (string, error) {
	if err := opts.Validate(); err != nil {
		return "", err
	}
	return checkOffered(d, opts)
}

// checkOffered refuses options that name a swapper model, an enhancer, a model
// mask type (occlusion, region, area), an occluder or a face parser that no
// worker offers, with UNSUPPORTED_OPTION, so that such a job is refused at submit
// instead of waiting in the queue for a worker that will never come, and routes
// the job to a worker that has all of it. Workers publish what they offer and
// their profile (everything one worker offers) in Redis (jobs.PublishOffers,
// jobs.PublishProfile); "" (the worker's default swapper, occluder or parser),
// the box mask and occluder "many" (every occluder of the worker that takes the
// job) need only the mask type.
//
// Routing: a job whose needs every live profile covers (or that needs nothing)
// stays in the shared queues, which every worker serves; a job that only some
// profiles can run goes to the queue of the first of them (by id), which only
// workers of that profile serve (tasks.ProfileQueue); a job that no single
// profile can run (its swapper on one worker, its parser on another) is refused.
// While no worker has published a profile (workers older than profiles), each
// item is checked on its own and the job stays in the shared queues. Without Redis (unit
// tests of other parts) nothing is checked.
func checkOffered(d *Deps, opts jobs.Options) (string, error) {
	want := offersNeeded(opts)
	if len(want) == 0 || d.Redis == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), offersTimeout)
	defer cancel()
	now := time.Now()
	unavailable := func(err error) error {
		return errcode.New(errcode.Unavailable, "cannot check which models the workers offer: %v", err)
	}
	notOffered := func(w offer) error {
		return errcode.New(errcode.UnsupportedOption, "%s %q is not offered by any worker (%s)", w.field, w.name, w.env)
	}
	profiles, err := jobs.LiveProfiles(ctx, d.Redis, now)
	if err != nil {
		return "", unavailable(err)
	}
	if len(profiles) == 0 { // workers that publish no profile: each item on its own
		for _, w := range want {
			ok, err := jobs.Offered(ctx, d.Redis, w.kind, w.name, now)
			if err != nil {
				return "", unavailable(err)
			}
			if !ok {
				return "", notOffered(w)
			}
		}
		return "", nil
	}
	needs := make([]string, len(want))
	for i, w := range want {
		needs[i] = jobs.OfferItem(w.kind, w.name)
		if ids, _ := jobs.Covering(profiles, needs[i:i+1]); len(ids) == 0 {
			return "", notOffered(w)
		}
	}
	ids, all := jobs.Covering(profiles, needs)
	switch {
	case all:
		return "", nil
	case len(ids) == 0:
		fields := make([]string, len(want))
		for i, w := range want {
			fields[i] = fmt.Sprintf("%s %q", w.field, w.name)
		}
		return "", errcode.New(errcode.UnsupportedOption, "no single worker offers all of %s; each is offered by some worker, but a job runs on one", strings.Join(fields, ", "))
	}
	return tasks.ProfileQueue(ids[0]), nil
}

// offer is one thing a job needs a worker to offer.
type offer struct{ kind, name, field, env string }

// offersNeeded lists what opts need offered, swapper first.
func offersNeeded(opts jobs.Options) []offer {
	var want []offer
	if opts.Swapper != "" {
		want = append(want, offer{jobs.OfferSwapper, opts.Swapper, "options.swapper", "SWAPD_SWAPPER_MODELS"})
	}
	if opts.Enhancer != "" {
		want = append(want, offer{jobs.OfferEnhancer, opts.Enhancer, "options.enhancer", "SWAPD_ENHANCER_MODELS"})
	}
	env := map[string]string{"occlusion": "SWAPD_OCCLUDER_MODELS", "region": "SWAPD_PARSER_MODELS", "area": "SWAPD_LANDMARKER_MODELS"}
	for _, t := range opts.ModelMasks() {
		want = append(want, offer{jobs.OfferMask, t, "options.mask_types", env[t]})
		switch {
		case t == "occlusion" && opts.OccluderModel != "" && opts.OccluderModel != jobs.OccluderMany:
			want = append(want, offer{jobs.OfferOccluder, opts.OccluderModel, "options.occluder_model", env[t]})
		case t == "region" && opts.ParserModel != "":
			want = append(want, offer{jobs.OfferParser, opts.ParserModel, "options.parser_model", env[t]})
		}
	}
	return want
}
