package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A job's files in object storage go when its record does: the terminal transition
// adds the job to a sorted set scored by when its record expires (its own TTL, or the
// webhook horizon while a webhook is pending; moved up when the webhook ends), with
// the upload keys it used beside it, and a sweeper (tasks.Reaper) deletes the objects
// of every job that is due. Without it, outputs and inputs would outlive their records
// for ever. The Lua scripts in store.go name these keys literally.
const (
	expiringKey        = "swapd:expiring"
	expiringUploadsKey = "swapd:expiring:uploads"
)

// Expired is a job whose record has expired (or is about to), with the uploads it
// used: what is left to delete of it in object storage.
type Expired struct {
	ID      string
	Uploads []string // the caller's own upload keys the job read (uploads/{owner}/…)
}

// ExpiredBy returns up to 500 jobs whose records expire by t.
func (s *Store) ExpiredBy(ctx context.Context, t time.Time) ([]Expired, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, expiringKey, &redis.ZRangeBy{Min: "-inf", Max: fmt.Sprint(t.Unix()), Count: 500}).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ups, err := s.rdb.HMGet(ctx, expiringUploadsKey, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("expired jobs' uploads: %w", err)
	}
	out := make([]Expired, len(ids))
	for i, id := range ids {
		out[i].ID = id
		if s, ok := ups[i].(string); ok && s != "" {
			out[i].Uploads = strings.Split(s, ",")
		}
	}
	return out, nil
}

// ObjectsDeleted records that an expired job's objects are gone.
func (s *Store) ObjectsDeleted(ctx context.Context, id string) error {
	pipe := s.rdb.TxPipeline()
	pipe.ZRem(ctx, expiringKey, id)
	pipe.HDel(ctx, expiringUploadsKey, id)
	_, err := pipe.Exec(ctx)
	return err
}

// uploadKeys lists the uploads (POST /v1/uploads) a job reads, comma-separated.
func uploadKeys(j *Job) string {
	var keys []string
	for _, in := range j.Inputs() {
		if strings.HasPrefix(in.Key, "uploads/") {
			keys = append(keys, in.Key)
		}
	}
	return strings.Join(keys, ",")
}
