package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// A swapper no worker offers is UNSUPPORTED_OPTION (400) at submit; one a worker
// published passes, and so does the default swapper.
func TestCheckOffered(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	d := &Deps{Redis: rdb}
	if err := jobs.PublishOffers(context.Background(), rdb, jobs.OfferSwapper, []string{"inswapper_128", "hyperswap_1a_256"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := checkOffered(d, jobs.Options{}); err != nil {
		t.Errorf("default swapper: %v", err)
	}
	if err := checkOffered(d, jobs.Options{Swapper: "hyperswap_1a_256"}); err != nil {
		t.Errorf("offered swapper: %v", err)
	}
	err := checkOffered(d, jobs.Options{Swapper: "simswap_unofficial_512"})
	if errcode.Code(err) != errcode.UnsupportedOption || errcode.HTTPStatus(errcode.Code(err)) != http.StatusBadRequest {
		t.Errorf("unoffered swapper: %v (status %d)", err, errcode.HTTPStatus(errcode.Code(err)))
	}
}
