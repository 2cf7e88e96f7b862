package testenv

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	if p := FreePort(); p <= 0 || p > 65535 {
		t.Fatalf("FreePort() = %d", p)
	}
}

func TestRedis(t *testing.T) {
	addr := Redis(t)
	if err := redisPing(addr); err != nil {
		t.Fatalf("PING %s: %v", addr, err)
	}
}

func TestStartRedisStop(t *testing.T) {
	addr, stop, err := StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	if err := redisPing(addr); err != nil {
		t.Fatalf("PING %s: %v", addr, err)
	}
	stop()
	if err := redisPing(addr); err == nil {
		t.Fatalf("redis on %s still answers after stop", addr)
	}
}

func TestMinIO(t *testing.T) {
	info := MinIO(t)
	if info.Endpoint == "" || info.AccessKey == "" || info.SecretKey == "" {
		t.Fatalf("incomplete info %+v", info)
	}
	if err := httpOK(http.DefaultClient, "http://"+info.Endpoint+"/minio/health/live"); err != nil {
		t.Fatal(err)
	}
}

func TestMissingBinaryMentionsDeps(t *testing.T) {
	t.Setenv("SWAPD_REDIS_BIN", "/nonexistent/redis-server")
	_, _, err := StartRedis()
	if err == nil || !strings.Contains(err.Error(), "scripts/deps.sh") {
		t.Fatalf("err = %v, want a hint to scripts/deps.sh", err)
	}
}

func TestReceiverScript(t *testing.T) {
	r := NewReceiver(t, 500, 500, 200)
	var got []int
	for i := range 4 {
		resp, err := http.Post(r.URL+"/hook?x=1", "application/json", bytes.NewBufferString(`{"n":`+string(rune('0'+i))+`}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	if want := []int{500, 500, 200, 200}; !equalInts(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	reqs, err := r.Wait(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Method != http.MethodPost || reqs[0].Path != "/hook?x=1" || string(reqs[2].Body) != `{"n":2}` ||
		reqs[1].Header.Get("Content-Type") != "application/json" || reqs[1].Status != 500 {
		t.Fatalf("recorded %+v", reqs)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := r.Wait(short, 5); err == nil {
		t.Fatal("Wait for a 5th request should time out")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
