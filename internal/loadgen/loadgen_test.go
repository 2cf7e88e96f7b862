package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake accepts every job and posts its webhook from a goroutine; job numbers listed in
// lose get none, those in dup get theirs twice under one webhook-id.
type fake struct {
	n         atomic.Int64
	lose, dup map[int]bool
}

func (f *fake) Submit(ctx context.Context, hook string) error {
	i := int(f.n.Add(1)) - 1
	if f.lose[i] {
		return nil
	}
	go func() {
		times := 1
		if f.dup[i] {
			times = 2
		}
		for k := 0; k < times; k++ {
			req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader("{}"))
			req.Header.Set("webhook-id", fmt.Sprintf("msg_%d", i))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	return nil
}

func TestOpenCountsLostAndDuplicates(t *testing.T) {
	r, err := NewReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := &fake{lose: map[int]bool{3: true}, dup: map[int]bool{5: true, 7: true}}
	res := Open(context.Background(), f, r, 20, 1000, Options{Wait: 2 * time.Second, Grace: 200 * time.Millisecond})
	if res.Submitted != 20 || res.Lost != 1 || res.Duplicates != 2 || res.NoID != 0 {
		t.Fatalf("%+v; want 20 submitted, 1 lost, 2 duplicates", res)
	}
	if res.P99 <= 0 || res.P50 > res.P99 || res.FinishRate() <= 0 {
		t.Fatalf("latencies %v/%v, finish rate %v", res.P50, res.P99, res.FinishRate())
	}
}

func TestClosedSubmitsEveryJobOnce(t *testing.T) {
	r, err := NewReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := &fake{}
	res := Closed(context.Background(), f, r, 50, 4, Options{Grace: 100 * time.Millisecond})
	if int(f.n.Load()) != 50 || res.Submitted != 50 || res.Lost != 0 || res.Duplicates != 0 {
		t.Fatalf("%d submits, %+v", f.n.Load(), res)
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	if Percentile(d, 50) != 3 || Percentile(d, 99) != 5 || Percentile(d, 100) != 5 || Percentile(nil, 50) != 0 {
		t.Fatal(Percentile(d, 50), Percentile(d, 99))
	}
}
