package api

import (
	"context"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// offersTimeout bounds the Redis lookup checkOffered adds to a submit.
const offersTimeout = 2 * time.Second

// validateOptions is opts.Validate followed by checkOffered: submit's one call
// (setSpec) for both.
func validateOptions(d *Deps, opts jobs.Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	return checkOffered(d, opts)
}

// checkOffered refuses options that name a swapper model, a model mask type
// (occlusion, region, area), an occluder or a face parser no worker offers, with
// UNSUPPORTED_OPTION, so that such a job is refused at submit instead of waiting
// in the queue for a worker that will never come. Workers publish their models
// and the mask types they can make in Redis (jobs.PublishOffers); "" (the
// worker's default swapper, occluder or parser), the box mask and occluder
// "many" (every occluder of the worker that takes the job) need only the mask
// type. Each item is checked on its own: two items offered by different workers
// pass. Without Redis (unit tests of other parts) nothing is checked.
func checkOffered(d *Deps, opts jobs.Options) error {
	want := offersNeeded(opts)
	if len(want) == 0 || d.Redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), offersTimeout)
	defer cancel()
	for _, w := range want {
		ok, err := jobs.Offered(ctx, d.Redis, w.kind, w.name, time.Now())
		if err != nil {
			return errcode.New(errcode.Unavailable, "cannot check which models the workers offer: %v", err)
		}
		if !ok {
			return errcode.New(errcode.UnsupportedOption, "%s %q is not offered by any worker (%s)", w.field, w.name, w.env)
		}
	}
	return nil
}

// offer is one thing a job needs a worker to offer.
type offer struct{ kind, name, field, env string }

// offersNeeded lists what opts need offered, swapper first.
func offersNeeded(opts jobs.Options) []offer {
	var want []offer
	if opts.Swapper != "" {
		want = append(want, offer{jobs.OfferSwapper, opts.Swapper, "options.swapper", "SWAPD_SWAPPER_MODELS"})
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
