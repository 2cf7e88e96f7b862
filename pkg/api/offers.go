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

// checkOffered refuses options that name a swapper model no worker offers, with
// UNSUPPORTED_OPTION, so that such a job is refused at submit instead of waiting
// in the queue for a worker that will never come. Workers publish their models
// in Redis (jobs.PublishOffers); "" (the worker's default swapper) is always
// offered. Without Redis (unit tests of other parts) nothing is checked.
func checkOffered(d *Deps, opts jobs.Options) error {
	if opts.Swapper == "" || d.Redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), offersTimeout)
	defer cancel()
	ok, err := jobs.Offered(ctx, d.Redis, jobs.OfferSwapper, opts.Swapper, time.Now())
	if err != nil {
		return errcode.New(errcode.Unavailable, "cannot check which swapper models the workers offer: %v", err)
	}
	if !ok {
		return errcode.New(errcode.UnsupportedOption, "options.swapper %q is not offered by any worker (SWAPD_SWAPPER_MODELS)", opts.Swapper)
	}
	return nil
}
