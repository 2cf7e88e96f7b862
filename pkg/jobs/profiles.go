package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Worker profiles route a job to a worker that can run all of it.
//
// Offers (offers.go) say whether some worker has a model; a fleet whose workers
// differ (one GPU with the 512-px swapper and the occluders, others without)
// also needs the job to reach such a worker: a job taken by a worker without its
// model fails there. So each worker also publishes its profile: everything it
// offers, as "kind:name" items, under an id that is a digest of them. Workers
// with the same configuration share a profile, and each serves its profile's
// queue besides the shared ones (tasks.ProfileQueue). The API (api.checkOffered)
// sends a job that needs something only some profiles have to the queue of one
// that has all of it, keeps jobs that every live profile can run in the shared
// queues, and refuses a job no single profile can run with UNSUPPORTED_OPTION.
//
// Liveness follows the offers': a profile is live while its last publication is
// within OfferTTL of now, and when none is (every worker stopped), the profiles
// of the last workers seen stand, so jobs queue for the next worker to start.

// OfferProfile is the offers-set kind of a worker profile's liveness entry.
const OfferProfile = "profile"

const profilesKey = "swapd:profiles"

// OfferItem is one "kind:name" item of a profile or of a job's needs.
func OfferItem(kind, name string) string { return kind + ":" + name }

// ProfileID is the id of a worker offering items: the first 12 hex digits of the
// SHA-256 of the sorted items, so the same configuration always has the same id.
func ProfileID(items []string) string {
	s := slices.Clone(items)
	slices.Sort(s)
	s = slices.Compact(s)
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:6])
}

// PublishProfile records that a worker with profile id, offering items, was
// alive at now.
func PublishProfile(ctx context.Context, rdb redis.Cmdable, id string, items []string, now time.Time) error {
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, profilesKey, id, strings.Join(items, "\n"))
	pipe.PExpire(ctx, profilesKey, offersKeyTTL)
	pipe.ZAddArgs(ctx, offersKey, redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: float64(now.UnixMilli()), Member: OfferItem(OfferProfile, id)}}})
	pipe.PExpire(ctx, offersKey, offersKeyTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// LiveProfiles returns the live profiles (see above) and what each offers.
func LiveProfiles(ctx context.Context, rdb redis.Cmdable, now time.Time) (map[string][]string, error) {
	prefix := OfferItem(OfferProfile, "")
	all, err := rdb.ZRangeWithScores(ctx, offersKey, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	var ids []string
	var scores []float64
	newest := 0.0
	for _, z := range all {
		m, _ := z.Member.(string)
		if id, ok := strings.CutPrefix(m, prefix); ok {
			ids, scores = append(ids, id), append(scores, z.Score)
			newest = max(newest, z.Score)
		}
	}
	ttl := float64(OfferTTL.Milliseconds())
	since := float64(now.UnixMilli()) - ttl
	if newest < since { // nobody live: the last workers seen stand
		since = newest - ttl
	}
	var live []string
	for i, id := range ids {
		if scores[i] >= since {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	vals, err := rdb.HMGet(ctx, profilesKey, live...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make(map[string][]string, len(live))
	for i, id := range live {
		if s, ok := vals[i].(string); ok {
			out[id] = strings.Split(s, "\n")
		}
	}
	return out, nil
}

// Covering returns, sorted, the ids of the profiles that offer every item of
// needs; all reports whether that is every profile given.
func Covering(profiles map[string][]string, needs []string) (ids []string, all bool) {
	for id, items := range profiles {
		if covers(items, needs) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, len(ids) == len(profiles)
}

func covers(items, needs []string) bool {
	for _, n := range needs {
		if !slices.Contains(items, n) {
			return false
		}
	}
	return true
}
