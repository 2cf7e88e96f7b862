package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
)

func TestOffers(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	ctx := context.Background()
	t0 := time.UnixMilli(1_800_000_000_000)
	offered := func(name string, at time.Time) bool {
		t.Helper()
		ok, err := Offered(ctx, rdb, OfferSwapper, name, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	rdb.Del(ctx, offersKey)
	if offered("hyperswap_1a_256", t0) {
		t.Fatal("offered before any worker published")
	}
	// Worker A offers inswapper and hyperswap; worker B inswapper and ghost.
	if err := PublishOffers(ctx, rdb, OfferSwapper, []string{"inswapper_128", "hyperswap_1a_256"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := PublishOffers(ctx, rdb, OfferSwapper, []string{"inswapper_128", "ghost_1_256"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"inswapper_128", "hyperswap_1a_256", "ghost_1_256"} {
		if !offered(n, t0.Add(OfferRefresh)) {
			t.Errorf("%s not offered", n)
		}
	}
	if offered("simswap_256", t0.Add(OfferRefresh)) {
		t.Error("simswap_256 offered though no worker has it")
	}
	// Worker A stops; B keeps refreshing: hyperswap drops out after OfferTTL.
	for at := t0.Add(OfferRefresh); at.Before(t0.Add(3 * OfferTTL)); at = at.Add(OfferRefresh) {
		if err := PublishOffers(ctx, rdb, OfferSwapper, []string{"inswapper_128", "ghost_1_256"}, at); err != nil {
			t.Fatal(err)
		}
	}
	last := t0.Add(3*OfferTTL - OfferRefresh)
	if offered("hyperswap_1a_256", last) || !offered("ghost_1_256", last) {
		t.Errorf("after A stopped: hyperswap %v (want false), ghost %v (want true)", offered("hyperswap_1a_256", last), offered("ghost_1_256", last))
	}
	// Every worker stops (scale to zero): the last workers' offers stand, the
	// long-gone one's do not.
	later := last.Add(time.Hour)
	if !offered("ghost_1_256", later) || !offered("inswapper_128", later) || offered("hyperswap_1a_256", later) {
		t.Errorf("scaled to zero: ghost %v inswapper %v (want true), hyperswap %v (want false)",
			offered("ghost_1_256", later), offered("inswapper_128", later), offered("hyperswap_1a_256", later))
	}
	// A worker clock behind never moves an offer back.
	if err := PublishOffers(ctx, rdb, OfferSwapper, []string{"ghost_1_256"}, t0); err != nil {
		t.Fatal(err)
	}
	if s, _ := rdb.ZScore(ctx, offersKey, "swapper:ghost_1_256").Result(); s < float64(t0.Add(OfferTTL).UnixMilli()) {
		t.Errorf("an older publication moved ghost back to %v", s)
	}
	if ttl := rdb.PTTL(ctx, offersKey).Val(); ttl <= 0 {
		t.Errorf("offers key has no expiry (%v)", ttl)
	}
}
