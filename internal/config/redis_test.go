package config

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestParseRedisURLSentinel(t *testing.T) {
	opt, err := ParseRedisURL("redis-sentinel://:s3cret@127.0.0.1:26379,127.0.0.1:26380,localhost:26381/2?master=swapd")
	if err != nil {
		t.Fatal(err)
	}
	fo, ok := opt.(asynq.RedisFailoverClientOpt)
	if !ok {
		t.Fatalf("got %T, want a Sentinel-backed option", opt)
	}
	if fo.MasterName != "swapd" || len(fo.SentinelAddrs) != 3 || fo.SentinelAddrs[2] != "localhost:26381" ||
		fo.Password != "s3cret" || fo.SentinelPassword != "s3cret" || fo.DB != 2 {
		t.Fatalf("parsed %+v", fo)
	}
	// The go-redis client made from it is a failover client (a *redis.Client that asks
	// the sentinels), not a plain client of the first address.
	c, ok := fo.MakeRedisClient().(*redis.Client)
	if !ok {
		t.Fatalf("client %T", fo.MakeRedisClient())
	}
	defer c.Close()
	if got := c.Options().Addr; got != "FailoverClient" {
		t.Fatalf("client address %q, want go-redis's FailoverClient marker", got)
	}

	opt, err = ParseRedisURL("redis-sentinel://:data@127.0.0.1:26379?master=m&sentinel_password=")
	if err != nil {
		t.Fatal(err)
	}
	if fo := opt.(asynq.RedisFailoverClientOpt); fo.Password != "data" || fo.SentinelPassword != "" {
		t.Fatalf("sentinel_password not applied: %+v", fo)
	}
	for _, bad := range []string{
		"redis-sentinel://127.0.0.1:26379",            // no master
		"redis-sentinel://127.0.0.1:26379/x?master=m", // bad db
	} {
		if _, err := ParseRedisURL(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if opt, err := ParseRedisURL("redis://127.0.0.1:6379/3"); err != nil || opt.(asynq.RedisClientOpt).DB != 3 {
		t.Fatalf("plain URL: %v %+v", err, opt)
	}
}
