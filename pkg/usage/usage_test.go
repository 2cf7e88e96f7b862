package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/usage"
)

// A job's tally is added in the step that creates its record, and only then: a
// record that exists already, or an owner at its jobs in flight, counts nothing.
// Untally takes a tally back; the day's hash expires.
func TestTallyCountsOnlyCreatedJobs(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	store := jobs.NewStore(rdb, time.Hour)
	counter := &usage.Counter{Redis: rdb}
	today := func() usage.Day {
		t.Helper()
		days, err := counter.Days(ctx, "k1", 1)
		if err != nil || len(days) != 1 {
			t.Fatalf("days: %v %v", days, err)
		}
		return days[0]
	}
	create := func(id string, tally *jobs.Tally) error {
		j := &jobs.Job{ID: id, Owner: "k1", Kind: jobs.KindProbe, CreatedAt: time.Now()}
		return store.CreateWith(ctx, j, jobs.CreateOptions{MaxInFlight: 2, Tally: tally})
	}

	first := counter.Tally("k1", true, 1000)
	if err := create("job-1", first); err != nil {
		t.Fatal(err)
	}
	if d := today(); d.Jobs != 1 || d.Bytes != 1000 {
		t.Fatalf("after one job: %+v", d)
	}
	if err := create("job-1", counter.Tally("k1", true, 1000)); errcode.Code(err) != errcode.Conflict {
		t.Fatalf("the same id again: %v", err)
	}
	if err := create("job-2", counter.Tally("k1", false, 50)); err != nil { // its job taken before (TakeJob)
		t.Fatal(err)
	}
	if err := create("job-3", counter.Tally("k1", true, 7)); errcode.Code(err) != errcode.QuotaExceeded {
		t.Fatalf("a third job in flight: %v", err)
	}
	if d := today(); d.Jobs != 1 || d.Bytes != 1050 {
		t.Fatalf("after a conflict, a job taken before and a refusal: %+v", d)
	}
	if ttl := rdb.TTL(ctx, first.Key).Val(); ttl < 7*24*time.Hour {
		t.Fatalf("the day's hash expires in %v", ttl)
	}
	counter.Untally(ctx, first)
	if d := today(); d.Jobs != 0 || d.Bytes != 50 {
		t.Fatalf("after taking the first back: %+v", d)
	}
	if counter.Tally("k1", false, 0) != nil {
		t.Fatal("a tally of nothing")
	}
	// Without a tally the record is written as before.
	if err := store.Create(ctx, &jobs.Job{ID: "job-4", Owner: "k2", Kind: jobs.KindProbe, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if j, err := store.Get(ctx, "job-4"); err != nil || j.Owner != "k2" || j.Status != jobs.Queued {
		t.Fatalf("job-4: %+v %v", j, err)
	}
}
