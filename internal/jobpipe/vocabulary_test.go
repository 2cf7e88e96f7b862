package jobpipe

import (
	"slices"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
)

// The API accepts what pkg/jobs lists; the worker runs what pkg/faceswap accepts.
// A value in one vocabulary only would pass submission and then fail every job
// (or be runnable but refused at the door), so the two must name the same values.
func TestVocabulariesMatch(t *testing.T) {
	cases := []struct {
		name           string
		jobs, faceswap []string
		set            func(*jobs.Options, string)
	}{
		{"face_order", jobs.FaceOrders, faceswap.Orders, func(o *jobs.Options, v string) { o.FaceOrder = v }},
		{"enhancer", jobs.Enhancers, faceswap.EnhancerModels, func(o *jobs.Options, v string) { o.Enhancer = v }},
		// jobs has no list of selectors, only its Validate: faceswap's list is
		// checked against that, and a made-up value must fail on both sides.
		{"face_selector", nil, faceswap.Selectors, func(o *jobs.Options, v string) { o.FaceSelector = v }},
	}
	for _, c := range cases {
		if c.jobs != nil && !sameSet(c.jobs, c.faceswap) {
			t.Errorf("%s: jobs lists %v, faceswap %v", c.name, c.jobs, c.faceswap)
		}
		for _, v := range append(slices.Clone(c.jobs), c.faceswap...) {
			var o jobs.Options
			c.set(&o, v)
			if err := o.Validate(); err != nil {
				t.Errorf("%s %q: jobs refuses it: %v", c.name, v, err)
			}
			if err := faceswapOptions(o).Validate(); err != nil {
				t.Errorf("%s %q: faceswap refuses it: %v", c.name, v, err)
			}
		}
		var o jobs.Options
		c.set(&o, "no-such-value")
		if o.Validate() == nil || faceswapOptions(o).Validate() == nil {
			t.Errorf("%s: a made-up value passes jobs (%v) or faceswap (%v)", c.name, o.Validate(), faceswapOptions(o).Validate())
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
