package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// A swapper no worker offers is UNSUPPORTED_OPTION (400) at submit; one a worker
// published passes, and so does the default swapper.
func TestCheckOffered(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	d := &Deps{Redis: rdb}
	if err := jobs.PublishOffers(context.Background(), rdb, jobs.OfferSwapper, []string{"inswapper_128", "hyperswap_1a_256"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := checkOffered(d, jobs.Options{}); err != nil {
		t.Errorf("default swapper: %v", err)
	}
	if _, err := checkOffered(d, jobs.Options{Swapper: "hyperswap_1a_256"}); err != nil {
		t.Errorf("offered swapper: %v", err)
	}
	_, err := checkOffered(d, jobs.Options{Swapper: "simswap_unofficial_512"})
	if errcode.Code(err) != errcode.UnsupportedOption || errcode.HTTPStatus(errcode.Code(err)) != http.StatusBadRequest {
		t.Errorf("unoffered swapper: %v (status %d)", err, errcode.HTTPStatus(errcode.Code(err)))
	}
}

// A mask type, occluder or parser no worker offers is UNSUPPORTED_OPTION at
// submit; what a worker published passes, and so do box and "many".
func TestCheckOfferedMasks(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	d := &Deps{Redis: rdb}
	now := time.Now()
	for kind, names := range map[string][]string{
		jobs.OfferSwapper:  {"inswapper_128"},
		jobs.OfferMask:     {"occlusion", "region"},
		jobs.OfferOccluder: {"xseg_1"},
		jobs.OfferParser:   {"bisenet_resnet_34"},
	} {
		if err := jobs.PublishOffers(context.Background(), rdb, kind, names, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []jobs.Options{
		{MaskTypes: []string{"box"}},
		{MaskTypes: []string{"box", "occlusion"}},
		{MaskTypes: []string{"occlusion"}, OccluderModel: "xseg_1"},
		{MaskTypes: []string{"occlusion"}, OccluderModel: jobs.OccluderMany},
		{MaskTypes: []string{"region"}, ParserModel: "bisenet_resnet_34", MaskRegions: []string{"nose"}},
		{MaskTypes: []string{"box"}, OccluderModel: "xseg_3"}, // no occlusion mask: the model is not used
	} {
		if _, err := checkOffered(d, o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, c := range []struct {
		o    jobs.Options
		want string
	}{
		{jobs.Options{MaskTypes: []string{"area"}}, "SWAPD_LANDMARKER_MODELS"},
		{jobs.Options{MaskTypes: []string{"occlusion"}, OccluderModel: "xseg_2"}, "SWAPD_OCCLUDER_MODELS"},
		{jobs.Options{MaskTypes: []string{"region"}, ParserModel: "bisenet_resnet_18"}, "SWAPD_PARSER_MODELS"},
	} {
		_, err := checkOffered(d, c.o)
		if errcode.Code(err) != errcode.UnsupportedOption || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want UNSUPPORTED_OPTION naming %s", c.o, err, c.want)
		}
	}
}

// With profiles published, a job that only one worker configuration can run goes
// to that configuration's queue, one every configuration can run stays on the
// lanes, and one that needs two configurations at once is refused.
func TestCheckOfferedRoutes(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	ctx := context.Background()
	rdb.FlushDB(ctx)
	d := &Deps{Redis: rdb}
	now := time.Now()
	big := map[string][]string{
		jobs.OfferSwapper: {"inswapper_128", "simswap_unofficial_512"}, jobs.OfferEnhancer: {"gfpgan_1.4"},
		jobs.OfferMask: {"occlusion"}, jobs.OfferOccluder: {"xseg_1"},
	}
	small := map[string][]string{
		jobs.OfferSwapper: {"inswapper_128"}, jobs.OfferEnhancer: {"gfpgan_1.4"},
		jobs.OfferMask: {"region"}, jobs.OfferParser: {"bisenet_resnet_34"},
	}
	ids := map[string]string{}
	for name, offers := range map[string]map[string][]string{"big": big, "small": small} {
		var items []string
		for kind, names := range offers {
			if err := jobs.PublishOffers(ctx, rdb, kind, names, now); err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				items = append(items, jobs.OfferItem(kind, n))
			}
		}
		ids[name] = jobs.ProfileID(items)
		if err := jobs.PublishProfile(ctx, rdb, ids[name], items, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		o     jobs.Options
		queue string
	}{
		{jobs.Options{}, ""},
		{jobs.Options{Enhancer: "gfpgan_1.4"}, ""},
		{jobs.Options{Swapper: "simswap_unofficial_512"}, tasks.ProfileQueue(ids["big"])},
		{jobs.Options{MaskTypes: []string{"occlusion"}, Enhancer: "gfpgan_1.4"}, tasks.ProfileQueue(ids["big"])},
		{jobs.Options{MaskTypes: []string{"region"}, ParserModel: "bisenet_resnet_34"}, tasks.ProfileQueue(ids["small"])},
	} {
		q, err := checkOffered(d, c.o)
		if err != nil || q != c.queue {
			t.Errorf("%+v: queue %q (%v), want %q", c.o, q, err, c.queue)
		}
	}
	_, err := checkOffered(d, jobs.Options{Swapper: "simswap_unofficial_512", MaskTypes: []string{"region"}})
	if errcode.Code(err) != errcode.UnsupportedOption || !strings.Contains(err.Error(), "no single worker") {
		t.Errorf("needs of two configurations: %v, want UNSUPPORTED_OPTION (no single worker)", err)
	}
	_, err = checkOffered(d, jobs.Options{Enhancer: "codeformer"})
	if errcode.Code(err) != errcode.UnsupportedOption || !strings.Contains(err.Error(), "SWAPD_ENHANCER_MODELS") {
		t.Errorf("an enhancer no worker offers: %v, want UNSUPPORTED_OPTION", err)
	}
}
