package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
)

// A batch is one identity (its sources, stored once) swapped into many targets. Each
// target is an ordinary job of the owner (an item) whose record names the batch in
// its "batch" field; every item references the batch's source objects, so the
// worker's embedding cache (keyed by the sources' content hash) computes the identity
// once. The batch record holds the shared spec and the number of items; the items'
// ids are a sorted set in submission order; the items that have ended are a set
// filled by the job transition script (transitionScript) in the same step as an
// item's terminal change, so the count is exact however many workers end items at
// once. BatchEnded turns "every item ended" into exactly one claim.

// Batch is a batch record.
type Batch struct {
	ID          string     `json:"id"`
	Owner       string     `json:"-"`
	Total       int        `json:"total"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Sources     []Input    `json:"sources"`
	Options     Options    `json:"options"`
	Webhook     *Webhook   `json:"webhook,omitempty"`
}

// BatchCounts counts a batch's items by status. Items whose records are gone (deleted
// one by one, or expired) are in none of them.
type BatchCounts struct {
	Queued    int `json:"queued"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Canceled  int `json:"canceled"`
}

// EventBatchCompleted is the type of the webhook sent once every item has ended.
const EventBatchCompleted = "batch.completed"

func batchKey(id string) string      { return "swapd:batch:" + id }
func batchItemsKey(id string) string { return "swapd:batch:" + id + ":items" }

// batchEndedKey is the set of the batch's items that have ended; transitionScript
// builds the same name from the item record's "batch" field.
func batchEndedKey(id string) string { return "swapd:batch:" + id + ":ended" }

type batchSpec struct {
	Sources []Input  `json:"sources"`
	Options Options  `json:"options"`
	Webhook *Webhook `json:"webhook,omitempty"`
}

// CreateBatch stores a new batch record. Its items are added with CreateItem.
func (s *Store) CreateBatch(ctx context.Context, b *Batch) error {
	sp, err := json.Marshal(batchSpec{Sources: b.Sources, Options: b.Options, Webhook: b.Webhook})
	if err != nil {
		return fmt.Errorf("encode batch %s: %w", b.ID, err)
	}
	ok, err := s.rdb.HSetNX(ctx, batchKey(b.ID), "spec", sp).Result()
	if err != nil {
		return fmt.Errorf("create batch %s: %w", b.ID, err)
	}
	if !ok {
		return errcode.New(errcode.Conflict, "batch %s already exists", b.ID)
	}
	if err := s.rdb.HSet(ctx, batchKey(b.ID), "owner", b.Owner, "total", b.Total,
		"created_at", b.CreatedAt.UTC().Format(time.RFC3339Nano)).Err(); err != nil {
		return fmt.Errorf("create batch %s: %w", b.ID, err)
	}
	return nil
}

// CreateItem creates j as an item of batch batchID (CreateWithin's limit applies) and
// adds it to the batch's items.
func (s *Store) CreateItem(ctx context.Context, batchID string, j *Job, maxInFlight int) error {
	if err := s.create(ctx, j, CreateOptions{MaxInFlight: maxInFlight}, "batch", batchID); err != nil {
		return err
	}
	if err := s.rdb.ZAdd(ctx, batchItemsKey(batchID), redis.Z{Member: j.ID}).Err(); err != nil {
		return fmt.Errorf("add item %s to batch %s: %w", j.ID, batchID, err)
	}
	return nil
}

// GetBatch returns the batch, or an errcode NOT_FOUND error.
func (s *Store) GetBatch(ctx context.Context, id string) (*Batch, error) {
	m, err := s.rdb.HGetAll(ctx, batchKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("get batch %s: %w", id, err)
	}
	if len(m) == 0 || m["spec"] == "" {
		return nil, errcode.New(errcode.NotFound, "no batch with id %q (it may have expired)", id)
	}
	var sp batchSpec
	if err := json.Unmarshal([]byte(m["spec"]), &sp); err != nil {
		return nil, fmt.Errorf("decode batch %s: %w", id, err)
	}
	b := &Batch{ID: id, Owner: m["owner"], Sources: sp.Sources, Options: sp.Options, Webhook: sp.Webhook,
		CreatedAt: parseTime(m["created_at"]), CompletedAt: optTime(m["completed_at"])}
	b.Total, _ = strconv.Atoi(m["total"])
	return b, nil
}

// BatchItems returns up to limit item ids after cursor (an item id; "" for the first
// page), in submission order, and the cursor of the next page ("" after the last).
// Item ids are UUIDv7 made in submission order, so the order is the ids' own.
func (s *Store) BatchItems(ctx context.Context, id, cursor string, limit int) (ids []string, next string, err error) {
	min := "-"
	if cursor != "" {
		min = "(" + cursor
	}
	ids, err = s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: batchItemsKey(id), Start: min, Stop: "+", ByLex: true,
		Offset: 0, Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("items of batch %s: %w", id, err)
	}
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	return ids, next, nil
}

// BatchItemIDs returns every item id of the batch, in submission order.
func (s *Store) BatchItemIDs(ctx context.Context, id string) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, batchItemsKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("items of batch %s: %w", id, err)
	}
	return ids, nil
}

// BatchCounts counts the batch's items by status (one pipelined read per item), and
// returns how many have ended by the batch's own count.
func (s *Store) BatchCounts(ctx context.Context, id string) (c BatchCounts, ended int, err error) {
	ids, err := s.BatchItemIDs(ctx, id)
	if err != nil {
		return c, 0, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, item := range ids {
		cmds[i] = pipe.HGet(ctx, key(item), "status")
	}
	card := pipe.SCard(ctx, batchEndedKey(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return c, 0, fmt.Errorf("count items of batch %s: %w", id, err)
	}
	for _, cmd := range cmds {
		switch Status(cmd.Val()) {
		case Queued:
			c.Queued++
		case Running:
			c.Running++
		case Succeeded:
			c.Succeeded++
		case Failed:
			c.Failed++
		case Canceled:
			c.Canceled++
		}
	}
	return c, int(card.Val()), nil
}

// BatchEnded reports whether the caller is the one to announce the batch's end: true
// exactly once, to the first caller after every item has ended (completed_at is set in
// the same step, so concurrent callers on several workers cannot both get true). It
// also starts the batch's expiry: keep, counted from now (the items' own TTL and
// webhook horizon). A caller that then fails to announce it gives the claim back with
// ReleaseBatch, so a later call (the reaper's) claims it again.
func (s *Store) BatchEnded(ctx context.Context, id string) (bool, error) {
	keep := int((s.ttl + s.WebhookHorizon) / time.Second)
	n, err := batchEndedScript.Run(ctx, s.rdb, []string{batchKey(id), batchEndedKey(id), batchItemsKey(id)}, now(), keep).Int()
	if err != nil {
		return false, fmt.Errorf("end of batch %s: %w", id, err)
	}
	return n == 1, nil
}

var batchEndedScript = redis.NewScript(`
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '')
if not total then return 0 end
if redis.call('SCARD', KEYS[2]) < total then return 0 end
if redis.call('HSETNX', KEYS[1], 'completed_at', ARGV[1]) == 0 then return 0 end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return 1`)

// ReleaseBatch gives back a claim BatchEnded granted.
func (s *Store) ReleaseBatch(ctx context.Context, id string) error {
	return s.rdb.HDel(ctx, batchKey(id), "completed_at").Err()
}

// DeleteBatch removes the batch record and its sets (not its items: the caller deletes
// those first).
func (s *Store) DeleteBatch(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, batchKey(id), batchItemsKey(id), batchEndedKey(id)).Err()
}
