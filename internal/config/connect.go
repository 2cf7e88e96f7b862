package config

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/webhook"
)

// WebhookSchedule returns s, or the default Svix schedule when s is empty.
func WebhookSchedule(s []time.Duration) []time.Duration {
	if len(s) == 0 {
		return webhook.Schedule
	}
	return s
}

// ConnectStorage connects to object storage, retrying for a while so a service started
// together with MinIO (compose, make run) does not lose the race.
func ConnectStorage(ctx context.Context, cfg storage.Config) (*storage.Store, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := storage.New(ctx, cfg)
		if errors.Is(err, storage.ErrEncryptionUnsupported) {
			return nil, fmt.Errorf("object storage %s: %w", cfg.Endpoint, err) // waiting will not change it
		}
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("object storage %s: %w", cfg.Endpoint, err)
			}
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
