package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis starts a throwaway redis-server for one test and returns its
// "127.0.0.1:port" address. It is killed and its directory removed when the
// test ends. A missing binary fails the test.
func Redis(t testing.TB) (addr string) {
	t.Helper()
	addr, stop, err := StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// StartRedis starts redis-server (SWAPD_REDIS_BIN, else redis-server on PATH)
// on a free loopback port with persistence off and returns its address and a
// stop function that kills it and removes its directory. For use from
// TestMain, where there is no testing.TB.
func StartRedis() (addr string, stop func(), err error) {
	bin, err := findBinary("redis-server", "SWAPD_REDIS_BIN", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "swapd-redis-")
	if err != nil {
		return "", nil, fmt.Errorf("testenv: redis temp dir: %w", err)
	}
	var lastErr error
	for range startAttempts {
		port := FreePort()
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := startProc(bin, []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--loglevel", "warning",
		}, nil)
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		err = waitReady(p, 15*time.Second, func() error { return redisPing(addr) })
		if err == nil {
			return addr, func() { p.stop(); os.RemoveAll(dir) }, nil
		}
		p.stop()
		lastErr = fmt.Errorf("testenv: redis-server on %s: %w\n%s", addr, err, p.logs())
		if !errors.Is(err, errExited) {
			break
		}
	}
	os.RemoveAll(dir)
	return "", nil, lastErr
}

// redisPing speaks just enough RESP to check the server answers PING.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
