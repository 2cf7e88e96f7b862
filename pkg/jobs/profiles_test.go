package jobs

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
)

func TestProfileID(t *testing.T) {
	a := ProfileID([]string{"swapper:inswapper_128", "mask:occlusion", "occluder:xseg_1"})
	if b := ProfileID([]string{"occluder:xseg_1", "swapper:inswapper_128", "mask:occlusion", "mask:occlusion"}); a != b {
		t.Errorf("the same items in another order gave %s and %s", a, b)
	}
	if c := ProfileID([]string{"swapper:inswapper_128"}); c == a {
		t.Error("different items gave the same id")
	}
	if len(a) != 12 {
		t.Errorf("id %q, want 12 hex digits", a)
	}
}

// Two worker configurations publish their profiles; a job's needs are covered by
// the right ones; a stopped configuration drops out after OfferTTL unless every
// worker stopped.
func TestLiveProfilesAndCovering(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	ctx := context.Background()
	rdb.Del(ctx, offersKey, profilesKey)
	t0 := time.UnixMilli(1_800_000_000_000)
	big := []string{"swapper:inswapper_128", "swapper:simswap_unofficial_512", "mask:occlusion", "occluder:xseg_1", "enhancer:gfpgan_1.4"}
	small := []string{"swapper:inswapper_128", "enhancer:gfpgan_1.4"}
	idBig, idSmall := ProfileID(big), ProfileID(small)
	publish := func(id string, items []string, at time.Time) {
		t.Helper()
		if err := PublishProfile(ctx, rdb, id, items, at); err != nil {
			t.Fatal(err)
		}
	}
	live := func(at time.Time) map[string][]string {
		t.Helper()
		p, err := LiveProfiles(ctx, rdb, at)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := live(t0); len(p) != 0 {
		t.Fatalf("profiles before any worker published: %v", p)
	}
	publish(idBig, big, t0)
	publish(idSmall, small, t0.Add(time.Second))
	p := live(t0.Add(OfferRefresh))
	if len(p) != 2 || !slices.Equal(p[idBig], big) || !slices.Equal(p[idSmall], small) {
		t.Fatalf("live profiles %v", p)
	}
	for _, c := range []struct {
		needs []string
		ids   []string
		all   bool
	}{
		{nil, []string{idBig, idSmall}, true},
		{[]string{"enhancer:gfpgan_1.4"}, []string{idBig, idSmall}, true},
		{[]string{"mask:occlusion", "occluder:xseg_1"}, []string{idBig}, false},
		{[]string{"swapper:simswap_unofficial_512", "enhancer:gfpgan_1.4"}, []string{idBig}, false},
		{[]string{"mask:region"}, nil, false},
	} {
		ids, all := Covering(p, c.needs)
		want := slices.Clone(c.ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) || all != c.all {
			t.Errorf("needs %v: covering %v all %v, want %v %v", c.needs, ids, all, want, c.all)
		}
	}
	// The big worker stops; the small one keeps publishing.
	for at := t0.Add(OfferRefresh); at.Before(t0.Add(2 * OfferTTL)); at = at.Add(OfferRefresh) {
		publish(idSmall, small, at)
	}
	if p := live(t0.Add(2 * OfferTTL)); len(p) != 1 || p[idSmall] == nil {
		t.Errorf("after the big worker stopped: %v, want only the small profile", p)
	}
	// Every worker stops: the last seen stand.
	if p := live(t0.Add(24 * time.Hour)); len(p) != 1 || p[idSmall] == nil {
		t.Errorf("scaled to zero: %v, want the last profile seen", p)
	}
}
