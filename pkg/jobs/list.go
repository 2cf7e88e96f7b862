package jobs

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Page is one page of a listing. Next is the cursor for the following page, empty on
// the last one.
type Page struct {
	Jobs []*Job `json:"jobs"`
	Next string `json:"next_cursor,omitempty"`
}

// List returns owner's jobs newest first, starting after cursor (a job id from a
// previous page's Next), optionally only those with the given status. Index entries of
// expired records are dropped as they are met, so the index does not outgrow the records.
func (s *Store) List(ctx context.Context, owner, cursor string, limit int, status Status) (Page, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	max := "+"
	if cursor != "" {
		max = "(" + cursor
	}
	var page Page
	// Scan in batches; a status filter may need several to fill a page. Bounded, so a
	// rare status over a huge history cannot make one request unbounded.
	for scanned := 0; scanned < 50*limit; {
		ids, err := s.rdb.ZRevRangeByLex(ctx, ownerKey(owner), &redis.ZRangeBy{Max: max, Min: "-", Count: int64(limit + 1)}).Result()
		if err != nil {
			return Page{}, fmt.Errorf("list jobs: %w", err)
		}
		if len(ids) == 0 {
			return page, nil
		}
		scanned += len(ids)
		for _, id := range ids {
			j, err := s.Get(ctx, id)
			if err != nil {
				s.rdb.ZRem(ctx, ownerKey(owner), id) // expired or deleted
				continue
			}
			if status != "" && j.Status != status {
				continue
			}
			if len(page.Jobs) == limit {
				page.Next = page.Jobs[limit-1].ID
				return page, nil
			}
			page.Jobs = append(page.Jobs, j)
		}
		max = "(" + ids[len(ids)-1]
		if len(ids) < limit+1 {
			return page, nil
		}
	}
	if len(page.Jobs) > 0 {
		page.Next = page.Jobs[len(page.Jobs)-1].ID
	}
	return page, nil
}
