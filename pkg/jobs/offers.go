package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// What workers offer, for the API to check a job against before it is queued: a
// job asking for a swapper model no worker has would otherwise wait in the queue
// forever (or fail on whichever worker takes it).
//
// Workers publish into one sorted set, a member per (kind, name) scored with the
// last time, in Unix milliseconds, a worker offered it. Each worker republishes
// every OfferRefresh; an offer is live while its score is within OfferTTL of now,
// so a model whose last worker stopped (or was reconfigured without it) drops out
// within OfferTTL. When no offer at all is live (every worker stopped: scaled to
// zero), the offers of the last workers seen stand, so jobs queue for the next
// worker to start instead of being refused. The key itself expires
// offersKeyTTL after the last publication.
const (
	OfferRefresh = 30 * time.Second
	OfferTTL     = 3 * OfferRefresh

	// OfferSwapper is the kind of a swapper model offer, OfferEnhancer of a face
	// enhancer's.
	OfferSwapper  = "swapper"
	OfferEnhancer = "enhancer"

	offersKey    = "swapd:offers"
	offersKeyTTL = 7 * 24 * time.Hour
)

// PublishOffers records that a worker offers names of kind at now.
func PublishOffers(ctx context.Context, rdb redis.Cmdable, kind string, names []string, now time.Time) error {
	if len(names) == 0 {
		return nil
	}
	ms := float64(now.UnixMilli())
	members := make([]redis.Z, len(names))
	for i, n := range names {
		members[i] = redis.Z{Score: ms, Member: kind + ":" + n}
	}
	pipe := rdb.TxPipeline()
	// GT: a worker whose clock runs behind never moves an offer back in time (GT
	// still adds members that are not there yet).
	pipe.ZAddArgs(ctx, offersKey, redis.ZAddArgs{GT: true, Members: members})
	pipe.PExpire(ctx, offersKey, offersKeyTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// Offered reports whether a worker offers name of kind: a live offer, or, while
// no worker at all has published within OfferTTL, an offer of the last workers
// seen (published within OfferTTL of the newest offer).
func Offered(ctx context.Context, rdb redis.Cmdable, kind, name string, now time.Time) (bool, error) {
	score, err := rdb.ZScore(ctx, offersKey, kind+":"+name).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ttl := float64(OfferTTL.Milliseconds())
	if score >= float64(now.UnixMilli())-ttl {
		return true, nil
	}
	newest, err := rdb.ZRevRangeWithScores(ctx, offersKey, 0, 0).Result()
	if err != nil || len(newest) == 0 {
		return false, err
	}
	top := newest[0].Score
	return top < float64(now.UnixMilli())-ttl && score >= top-ttl, nil
}
