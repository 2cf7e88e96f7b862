package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Page is one page of a listing. Next is the cursor for the following page, empty on
// the last one.
type Page struct {
	Jobs []*Job `json:"jobs"`
	Next string `json:"next_cursor,omitempty"`
}

// listScanMax bounds how many index entries one List call reads (expired ones and,
// with a status filter, ones of another status), so a request over a huge history
// stays bounded. Reads are pipelined in batches of listBatch, so the bound costs tens
// of round trips, not thousands. A variable so tests can lower it.
var listScanMax = 20_000

const listBatch = 500

// List returns owner's jobs newest first, starting after cursor (a job id from a
// previous page's Next), optionally only those with the given status.
//
// The owner's index outlives the records it names (records expire, the index does
// not), so List drops the entries of records that are gone as it meets them (ZREM),
// and keeps reading past them until the page is full or the index ends: a page comes
// back short only at the end of the index. Only when it has read listScanMax entries
// without filling the page does it stop early; then Next is set (the page may even be
// empty) and the entries it dropped are gone for the next call.
func (s *Store) List(ctx context.Context, owner, cursor string, limit int, status Status) (Page, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	idx := ownerKey(owner)
	max := "+"
	if cursor != "" {
		max = "(" + cursor
	}
	var page Page
	batch := limit + 1 // the common case: one batch fills the page
	last := ""
	for scanned := 0; scanned < listScanMax; {
		count := min(batch, listScanMax-scanned)
		ids, err := s.rdb.ZRevRangeByLex(ctx, idx, &redis.ZRangeBy{Max: max, Min: "-", Count: int64(count)}).Result()
		if err != nil {
			return Page{}, fmt.Errorf("list jobs: %w", err)
		}
		if len(ids) == 0 {
			return page, nil // the index ended
		}
		scanned += len(ids)
		last = ids[len(ids)-1]
		// Statuses first (one pipelined round trip): they tell which records are gone
		// and which the filter keeps, before any record is read whole.
		statuses, err := s.statuses(ctx, ids)
		if err != nil {
			return Page{}, err
		}
		var gone []any
		var want []string
		for i, id := range ids {
			switch {
			case statuses[i] == "":
				gone = append(gone, id)
			case status == "" || Status(statuses[i]) == status:
				want = append(want, id)
			}
		}
		full := len(page.Jobs)+len(want) > limit
		if full {
			want = want[:limit-len(page.Jobs)]
		}
		recs, err := s.getMany(ctx, want)
		if err != nil {
			return Page{}, err
		}
		for i, id := range want {
			if recs[i] == nil {
				gone = append(gone, id) // expired between the two reads
				continue
			}
			if status != "" && recs[i].Status != status {
				continue // changed between the two reads
			}
			page.Jobs = append(page.Jobs, recs[i])
		}
		if len(gone) > 0 {
			// Best effort: an entry left behind is dropped by the next List or TrimIndex.
			_ = s.rdb.ZRem(ctx, idx, gone...).Err()
		}
		if full {
			page.Next = page.Jobs[len(page.Jobs)-1].ID
			return page, nil
		}
		if len(ids) < count {
			return page, nil // the index ended
		}
		max = "(" + last
		batch = listBatch
	}
	// Read as much as one request may without reaching the end: the client goes on
	// from the last entry read.
	page.Next = last
	return page, nil
}

// statuses returns each job's status, "" for a record that is gone.
func (s *Store) statuses(ctx context.Context, ids []string) ([]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, key(id), "status")
	}
	_, _ = pipe.Exec(ctx) // a missing record is redis.Nil; each command's error is read below
	out := make([]string, len(ids))
	for i, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out[i] = c.Val()
	}
	return out, nil
}

// getMany reads whole records, nil for one that is gone. A record that does not
// decode is an error, as for Get.
func (s *Store) getMany(ctx context.Context, ids []string) ([]*Job, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]*Job, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		j, err := decode(ids[i], c.Val())
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

// TrimIndex drops from owner's index every entry whose record is gone (expired or
// deleted) and returns how many it dropped. It reads the whole index in pipelined
// batches; List does the same for the entries it reads, so this is for a periodic
// sweep (the reaper) of owners who stopped listing.
func (s *Store) TrimIndex(ctx context.Context, owner string) (int, error) {
	idx := ownerKey(owner)
	removed := 0
	min := "-"
	for {
		ids, err := s.rdb.ZRangeByLex(ctx, idx, &redis.ZRangeBy{Min: min, Max: "+", Count: 1000}).Result()
		if err != nil {
			return removed, fmt.Errorf("trim index of %s: %w", owner, err)
		}
		if len(ids) == 0 {
			return removed, nil
		}
		pipe := s.rdb.Pipeline()
		exists := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			exists[i] = pipe.Exists(ctx, key(id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return removed, fmt.Errorf("trim index of %s: %w", owner, err)
		}
		var gone []any
		for i, id := range ids {
			if exists[i].Val() == 0 {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			n, err := s.rdb.ZRem(ctx, idx, gone...).Result()
			if err != nil {
				return removed, fmt.Errorf("trim index of %s: %w", owner, err)
			}
			removed += int(n)
		}
		if len(ids) < 1000 {
			return removed, nil
		}
		min = "(" + ids[len(ids)-1]
	}
}

// TrimIndexes runs TrimIndex over every owner's index (found with SCAN, so Redis is
// never blocked) and returns how many entries it dropped in all.
func (s *Store) TrimIndexes(ctx context.Context) (int, error) {
	removed := 0
	iter := s.rdb.Scan(ctx, 0, ownerKey("*"), 100).Iterator()
	for iter.Next(ctx) {
		owner := strings.TrimSuffix(strings.TrimPrefix(iter.Val(), "swapd:owner:"), ":jobs")
		n, err := s.TrimIndex(ctx, owner)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	if err := iter.Err(); err != nil {
		return removed, fmt.Errorf("trim indexes: %w", err)
	}
	return removed, nil
}

// IDsOf returns the ids in owner's index, newest first: every job of the key whose
// record has not expired yet (and some that have, until the index is trimmed).
func (s *Store) IDsOf(ctx context.Context, owner string) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, ownerKey(owner), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("jobs of %s: %w", owner, err)
	}
	return ids, nil
}
