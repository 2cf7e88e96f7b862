package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinels of a Sentinel set monitor.
const SentinelMaster = "swapd"

// Sentinel is a Redis Sentinel deployment for one test: a primary and replicas
// (redis-server with AOF on and appendfsync always, so a killed node loses nothing it
// acknowledged) and three redis-sentinel processes with a quorum of two, all on free
// loopback ports. Failures are detected after a second (down-after-milliseconds 1000).
type Sentinel struct {
	URL       string   // redis-sentinel://s1,s2,s3?master=swapd, for SWAPD_REDIS_URL
	Sentinels []string // sentinel addresses
	Nodes     []string // data node addresses; Nodes[0] was the first primary

	mu    sync.Mutex
	procs map[string]*proc // data node address → running process
	dirs  map[string]string
	bin   string
	extra []*proc // sentinels
}

// StartSentinel starts a primary with replicas replicas and three sentinels, and
// waits until the sentinels agree on the primary and see every replica. Everything is
// killed and removed when the test ends. Missing binaries (redis-server,
// redis-sentinel: scripts/deps.sh installs both) fail the test.
func StartSentinel(t testing.TB, replicas int) *Sentinel {
	t.Helper()
	s, err := startSentinel(replicas)
	if s != nil {
		t.Cleanup(s.stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startSentinel(replicas int) (*Sentinel, error) {
	bin, err := findBinary("redis-server", "SWAPD_REDIS_BIN", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if err != nil {
		return nil, err
	}
	sbin, err := findBinary("redis-sentinel", "SWAPD_REDIS_SENTINEL_BIN", "/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel")
	if err != nil {
		return nil, err
	}
	s := &Sentinel{procs: map[string]*proc{}, dirs: map[string]string{}, bin: bin}
	primary, err := s.startNode("")
	if err != nil {
		return s, err
	}
	for range replicas {
		if _, err := s.startNode(primary); err != nil {
			return s, err
		}
	}
	host, port, _ := net.SplitHostPort(primary)
	for i := range 3 {
		addr, err := s.startSentinelProc(sbin, i, host, port)
		if err != nil {
			return s, err
		}
		s.Sentinels = append(s.Sentinels, addr)
	}
	s.URL = "redis-sentinel://" + strings.Join(s.Sentinels, ",") + "?master=" + SentinelMaster
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got, err := s.WaitPrimary(ctx, "", replicas); err != nil {
		return s, err
	} else if got != primary {
		return s, fmt.Errorf("testenv: sentinels name %s, not the first primary %s", got, primary)
	}
	return s, nil
}

// startNode starts a data node, a replica of primaryOf unless that is empty.
func (s *Sentinel) startNode(primaryOf string) (string, error) {
	dir, err := os.MkdirTemp("", "swapd-redis-node-")
	if err != nil {
		return "", err
	}
	var lastErr error
	for range startAttempts {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort()))
		s.mu.Lock()
		s.dirs[addr] = dir
		s.mu.Unlock()
		if lastErr = s.run(addr, primaryOf); lastErr == nil {
			s.mu.Lock()
			s.Nodes = append(s.Nodes, addr)
			s.mu.Unlock()
			return addr, nil
		}
		if !errors.Is(lastErr, errExited) {
			break
		}
	}
	return "", lastErr
}

// run starts redis-server for addr in its directory (its AOF kept across restarts).
func (s *Sentinel) run(addr, primaryOf string) error {
	_, port, _ := net.SplitHostPort(addr)
	s.mu.Lock()
	dir := s.dirs[addr]
	s.mu.Unlock()
	args := []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--maxmemory-policy", "noeviction", "--loglevel", "notice",
	}
	if primaryOf != "" {
		h, p, _ := net.SplitHostPort(primaryOf)
		args = append(args, "--replicaof", h, p)
	}
	p, err := startProc(s.bin, args, nil)
	if err != nil {
		return err
	}
	if err := waitReady(p, 15*time.Second, func() error { return redisPing(addr) }); err != nil {
		p.stop()
		return fmt.Errorf("testenv: redis node on %s: %w\n%s", addr, err, p.logs())
	}
	s.mu.Lock()
	s.procs[addr] = p
	s.mu.Unlock()
	return nil
}

func (s *Sentinel) startSentinelProc(bin string, i int, host, port string) (string, error) {
	dir, err := os.MkdirTemp("", "swapd-sentinel-")
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.dirs[fmt.Sprintf("sentinel-%d", i)] = dir
	s.mu.Unlock()
	var lastErr error
	for range startAttempts {
		sport := FreePort()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sport))
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 10000
sentinel parallel-syncs %[3]s 1
`, sport, dir, SentinelMaster, host, port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return "", err
		}
		p, err := startProc(bin, []string{conf}, nil)
		if err != nil {
			return "", err
		}
		err = waitReady(p, 15*time.Second, func() error { return redisPing(addr) })
		if err == nil {
			s.mu.Lock()
			s.extra = append(s.extra, p)
			s.mu.Unlock()
			return addr, nil
		}
		p.stop()
		lastErr = fmt.Errorf("testenv: redis-sentinel on %s: %w\n%s", addr, err, p.logs())
		if !errors.Is(err, errExited) {
			break
		}
	}
	return "", lastErr
}

// Primary asks a sentinel which node is the primary now.
func (s *Sentinel) Primary(ctx context.Context) (string, error) {
	var lastErr error
	for _, a := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("testenv: no sentinel names a primary: %v", lastErr)
}

// Failover asks a sentinel for a graceful failover (SENTINEL FAILOVER): a replica
// is promoted, and the old primary is turned into its replica once the sentinels see
// it again.
func (s *Sentinel) Failover(ctx context.Context) error {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0]})
	defer c.Close()
	return c.Failover(ctx, SentinelMaster).Err()
}

// WaitPrimary waits until every sentinel names the same primary, other than not
// (any, when not is empty), that node says it is a primary with at least replicas
// replicas online and in sync (acknowledged within the last second), and every sentinel
// sees that many replicas up. It returns that primary.
func (s *Sentinel) WaitPrimary(ctx context.Context, not string, replicas int) (string, error) {
	var last error
	for {
		primary, err := s.settled(ctx, replicas)
		switch {
		case err == nil && primary != not:
			return primary, nil
		case err == nil:
			last = fmt.Errorf("the primary is still %s", primary)
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("testenv: sentinel set did not settle: %v", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settled returns the primary all sentinels agree on, once it has replicas replicas in
// sync and every sentinel knows them. A sentinel turns a restarted old primary into a
// replica only after failover-timeout (10 s here), so that takes a while.
func (s *Sentinel) settled(ctx context.Context, replicas int) (string, error) {
	primary := ""
	for _, a := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		var known []map[string]string
		if err == nil {
			known, err = c.Replicas(ctx, SentinelMaster).Result()
		}
		c.Close()
		if err != nil {
			return "", err
		}
		p := net.JoinHostPort(addr[0], addr[1])
		if primary != "" && p != primary {
			return "", fmt.Errorf("sentinels disagree: %s, %s", primary, p)
		}
		primary = p
		up := 0
		for _, r := range known {
			if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") && r["master-link-status"] == "ok" {
				up++
			}
		}
		if up < replicas {
			return "", fmt.Errorf("sentinel %s sees %d of %d replicas up", a, up, replicas)
		}
	}
	c := redis.NewClient(&redis.Options{Addr: primary})
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", err
	}
	f := infoFields(info)
	if f["role"] != "master" {
		return "", fmt.Errorf("%s says it is a %s", primary, f["role"])
	}
	inSync := 0
	for i := range 16 {
		v, ok := f[fmt.Sprintf("slave%d", i)]
		if !ok {
			break
		}
		// slaveN:ip=…,port=…,state=online,offset=…,lag=0 (seconds since its last ack)
		if strings.Contains(v, "state=online") && (strings.HasSuffix(v, "lag=0") || strings.HasSuffix(v, "lag=1")) {
			inSync++
		}
	}
	if inSync < replicas {
		return "", fmt.Errorf("%s has %d of %d replicas in sync", primary, inSync, replicas)
	}
	return primary, nil
}

func infoFields(info string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[k] = v
		}
	}
	return f
}

// Kill kills a data node outright (SIGKILL); its AOF stays for Restart.
func (s *Sentinel) Kill(addr string) {
	s.mu.Lock()
	p := s.procs[addr]
	delete(s.procs, addr)
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Restart starts a killed data node again on its address with its data. It comes up
// as the primary it was; the sentinels turn it into a replica of the current primary.
func (s *Sentinel) Restart(addr string) error { return s.run(addr, "") }

// Logs returns the tail of a data node's output, for failure messages.
func (s *Sentinel) Logs(addr string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.procs[addr]; p != nil {
		return p.logs()
	}
	return ""
}

func (s *Sentinel) stop() {
	s.mu.Lock()
	procs := append([]*proc(nil), s.extra...)
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	dirs := s.dirs
	s.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}
