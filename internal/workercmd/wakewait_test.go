package workercmd

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestWakeWaitBounded: a SWAPD_WAKE_WAIT past tasks.MaxWakeWait (or below 0) is refused
// at start, before anything is loaded: a wait near asynq's 30 s lease would hand out
// tasks whose lease had run out.
func TestWakeWaitBounded(t *testing.T) {
	for _, v := range []string{"1m", "-1s"} {
		getenv := func(k string) string {
			if k == "SWAPD_WAKE_WAIT" {
				return v
			}
			return ""
		}
		err := Run(context.Background(), nil, getenv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "SWAPD_WAKE_WAIT") {
			t.Errorf("SWAPD_WAKE_WAIT=%s: err = %v, want one naming SWAPD_WAKE_WAIT", v, err)
		}
	}
}
