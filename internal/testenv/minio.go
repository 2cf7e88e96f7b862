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
	m, err := StartMinIOServer()
	if err != nil {
		return MinIOInfo{}, nil, err
	}
	return m.Info, m.Stop, nil
}

// MinIOServer is a started MinIO that a test may kill and start again on the same
// address and data, to inject a storage outage.
type MinIOServer struct {
	Info MinIOInfo
	bin  string
	dir  string
	env  []string
	p    *proc
}

// MinIOKMSKey is the built-in KMS key every test MinIO starts with
// (MINIO_KMS_SECRET_KEY=<name>:<base64 of 32 bytes>), so buckets can have SSE-S3
// default encryption as production ones do. A fixed test key: never use it elsewhere.
const MinIOKMSKey = "swapd-test-key:IHNsAkZj66KFZcZVeyR4fCG9RFGB4VcTQSUWz5fmQ0w="

// StartMinIOServer is StartMinIO with control over the process.
func StartMinIOServer() (*MinIOServer, error) { return startMinIOServer(true) }

// StartMinIOServerWithoutKMS starts a MinIO with no KMS key: it cannot encrypt at
// rest, and refuses a bucket default encryption (for SWAPD_REQUIRE_ENCRYPTION tests).
func StartMinIOServerWithoutKMS() (*MinIOServer, error) { return startMinIOServer(false) }

func startMinIOServer(kms bool) (*MinIOServer, error) {
	bin, err := findBinary("minio", "SWAPD_MINIO_BIN", cacheBin("minio"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "swapd-minio-")
	if err != nil {
		return nil, fmt.Errorf("testenv: minio temp dir: %w", err)
	}
	m := &MinIOServer{bin: bin, dir: dir, env: []string{
		"MINIO_ROOT_USER=" + minioAccessKey,
		"MINIO_ROOT_PASSWORD=" + minioSecretKey,
		"MINIO_BROWSER=off", // no console UI needed; starts faster
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	}}
	if kms {
		m.env = append(m.env, "MINIO_KMS_SECRET_KEY="+MinIOKMSKey)
	}
	var lastErr error
	for range startAttempts {
		endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort()))
		err := m.start(endpoint)
		if err == nil {
			m.Info = MinIOInfo{Endpoint: endpoint, AccessKey: minioAccessKey, SecretKey: minioSecretKey}
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (m *MinIOServer) start(endpoint string) error {
	p, err := startProc(m.bin, []string{
		"server", m.dir,
		"--address", endpoint,
		"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort())),
	}, m.env)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	err = waitReady(p, 90*time.Second, func() error {
		for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
			if err := httpOK(client, "http://"+endpoint+path); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.stop()
		return fmt.Errorf("testenv: minio on %s: %w\n%s", endpoint, err, p.logs())
	}
	m.p = p
	return nil
}

// DataDir is the server's data directory (the single drive), for tests that look at
// what MinIO really wrote to disk. It is removed by Stop.
func (m *MinIOServer) DataDir() string { return m.dir }

// Kill kills the server, keeping its data: connections are refused until Restart.
func (m *MinIOServer) Kill() { m.p.stop() }

// Restart starts the server again on the same address and data.
func (m *MinIOServer) Restart() error { return m.start(m.Info.Endpoint) }

// Stop kills the server and removes its data.
func (m *MinIOServer) Stop() {
	if m.p != nil {
		m.p.stop()
	}
	os.RemoveAll(m.dir)
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
