package api

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/errcode"
)

// allowRequest applies the key's request rate (apikeys.Limits.RequestsPerMinute): a
// GCRA limit kept in Redis by redis_rate, so every API replica shares it. Every
// limited response carries the IETF RateLimit-Policy and RateLimit headers; a
// refused one is 429 RATE_LIMITED with Retry-After, written by fail (each API
// surface has its own error shape). It reports whether the request may go on.
//
// When Redis cannot be asked, the request goes on: the limit protects capacity, and
// a request that needs Redis will answer 503 by itself.
func (d *Deps) allowRequest(w http.ResponseWriter, r *http.Request, key apikeys.Key, fail func(http.ResponseWriter, *slog.Logger, error)) bool {
	rpm := key.Limits.RequestsPerMinute
	if rpm <= 0 || d.limiter == nil {
		return true
	}
	res, err := d.limiter.Allow(r.Context(), "swapd:rate:"+key.ID, redis_rate.PerMinute(rpm))
	if err != nil {
		d.Log.Warn("rate limit unavailable; request let through", "key", key.Name, "err", err)
		return true
	}
	w.Header().Set("RateLimit-Policy", fmt.Sprintf(`"per-key";q=%d;w=60`, rpm))
	w.Header().Set("RateLimit", fmt.Sprintf(`"per-key";r=%d;t=%d`, res.Remaining, seconds(res.ResetAfter)))
	if res.Allowed > 0 {
		return true
	}
	wait := seconds(res.RetryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	fail(w, d.Log, errcode.New(errcode.RateLimited, "this API key may make %d requests a minute; try again in %d s", rpm, wait))
	return false
}

// seconds rounds up to whole seconds, at least 1 for any wait.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return max(int(math.Ceil(d.Seconds())), 1)
}
