package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// MinIOInfo is how to reach a started MinIO: Endpoint is "127.0.0.1:port"
// (plain HTTP), the form minio-go and storage.Config expect.
type MinIOInfo struct {
	Endpoint  string
	AccessKey string
	SecretKey string
}

// Credentials of every test MinIO (the root user; fine on a loopback-only,
// throwaway server).
const (
	minioAccessKey = "swapdtest"
	minioSecretKey = "swapdtest-secret-key"
)

// MinIO starts a throwaway single-drive MinIO server for one test; it is
// killed and its data removed when the test ends. Starting MinIO takes a few
// seconds; packages with several tests should share one via StartMinIO in
// TestMain. A missing binary fails the test.
func MinIO(t testing.TB) MinIOInfo {
	t.Helper()
	info, stop, err := StartMinIO()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return info
}

// StartMinIO starts `minio server DIR --address 127.0.0.1:P --console-address
// 127.0.0.1:Q` and waits until /minio/health/live and /minio/health/cluster
// answer 200 (the latter means buckets can be written). The binary is
// SWAPD_MINIO_BIN, else minio on PATH, else the one scripts/deps.sh builds
// into ~/.cache/swapd/bin. stop kills the server and removes its data.
func StartMinIO() (info MinIOInfo, stop func(), err error) {
	bin, err := findBinary("minio", "SWAPD_MINIO_BIN", cacheBin("minio"))
	if err != nil {
		return MinIOInfo{}, nil, err
	}
	dir, err := os.MkdirTemp("", "swapd-minio-")
	if err != nil {
		return MinIOInfo{}, nil, fmt.Errorf("testenv: minio temp dir: %w", err)
	}
	env := []string{
		"MINIO_ROOT_USER=" + minioAccessKey,
		"MINIO_ROOT_PASSWORD=" + minioSecretKey,
		"MINIO_BROWSER=off", // no console UI needed; starts faster
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for range startAttempts {
		port, consolePort := FreePort(), FreePort()
		endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := startProc(bin, []string{
			"server", dir,
			"--address", endpoint,
			"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(consolePort)),
		}, env)
		if err != nil {
			os.RemoveAll(dir)
			return MinIOInfo{}, nil, err
		}
		err = waitReady(p, 90*time.Second, func() error {
			for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
				if err := httpOK(client, "http://"+endpoint+path); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			info := MinIOInfo{Endpoint: endpoint, AccessKey: minioAccessKey, SecretKey: minioSecretKey}
			return info, func() { p.stop(); os.RemoveAll(dir) }, nil
		}
		p.stop()
		lastErr = fmt.Errorf("testenv: minio on %s: %w\n%s", endpoint, err, p.logs())
		if !errors.Is(err, errExited) {
			break
		}
	}
	os.RemoveAll(dir)
	return MinIOInfo{}, nil, lastErr
}

func httpOK(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
