package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The record and asynq's task are two things in Redis that a crash, an outage or a
// failover can leave out of step: a record says queued but no task will ever run it,
// says running but its worker is gone, or has ended but its webhook task was never
// enqueued. The store keeps three sorted sets, updated in the same Lua step as every
// transition, so a sweeper (tasks.Reaper) can find such records without scanning
// every key:
const (
	// runningKey: jobs with an attempt in progress, scored by the attempt's start
	// (unix seconds).
	runningKey = "swapd:running"
	// queuedKey: queued jobs, scored by when they were (re)queued.
	queuedKey = "swapd:queued"
	// notifyKey: ended jobs whose webhook task has not been confirmed enqueued
	// (Store.Notified), scored by when they ended.
	notifyKey = "swapd:notify"
)

// RunningSince returns the ids of jobs whose current attempt started before t.
func (s *Store) RunningSince(ctx context.Context, t time.Time) ([]string, error) {
	return s.since(ctx, runningKey, t)
}

// QueuedSince returns the ids of jobs queued (or requeued) before t and still queued.
func (s *Store) QueuedSince(ctx context.Context, t time.Time) ([]string, error) {
	return s.since(ctx, queuedKey, t)
}

// UnnotifiedSince returns the ids of jobs that ended before t and whose webhook task
// has not been confirmed enqueued.
func (s *Store) UnnotifiedSince(ctx context.Context, t time.Time) ([]string, error) {
	return s.since(ctx, notifyKey, t)
}

// Notified records that the job's webhook task is enqueued (or that it needs none).
func (s *Store) Notified(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, notifyKey, id).Err(); err != nil {
		return fmt.Errorf("job %s notified: %w", id, err)
	}
	return nil
}

// Forget drops id from the sweeper's sets: its record is gone (expired or deleted).
func (s *Store) Forget(ctx context.Context, id string) error {
	pipe := s.rdb.Pipeline()
	for _, k := range []string{runningKey, queuedKey, notifyKey} {
		pipe.ZRem(ctx, k, id)
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (s *Store) since(ctx context.Context, set string, t time.Time) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, set, &redis.ZRangeBy{Min: "-inf", Max: fmt.Sprint(t.Unix()), Count: 1000}).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", set, err)
	}
	return ids, nil
}
