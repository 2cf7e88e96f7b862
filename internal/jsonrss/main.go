// Command jsonrss measures the API's peak memory under large JSON submissions: it
// starts redis-server and MinIO (internal/testenv), runs the given api binary as its
// own process, sends -n JSON bodies of about -size bytes at once (each a base64 PNG
// target padded to the size, generated while sending, so this process holds none of
// it) and prints the api's peak RSS (VmHWM) and the answers.
//
//	go build -o bin/ ./cmd/api && go run ./internal/jsonrss -api bin/api
package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/swapd/swapd/internal/testenv"
)

func main() {
	api := flag.String("api", "bin/api", "the api binary")
	n := flag.Int("n", 8, "parallel requests")
	size := flag.Int64("size", 60_000_000, "bytes per JSON body")
	flag.Parse()
	if err := run(*api, *n, *size); err != nil {
		log.Fatal(err)
	}
}

func run(api string, n int, size int64) error {
	redisAddr, stopRedis, err := testenv.StartRedis()
	if err != nil {
		return err
	}
	defer stopRedis()
	m, stopMinIO, err := testenv.StartMinIO()
	if err != nil {
		return err
	}
	defer stopMinIO()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort())
	cmd := exec.Command(api)
	cmd.Env = append(os.Environ(),
		"SWAPD_ADDR="+addr, "SWAPD_API_KEYS=sk_rss", "SWAPD_RATE_LIMIT=0", "SWAPD_MAX_IN_FLIGHT=0",
		"SWAPD_REDIS_URL=redis://"+redisAddr+"/0", "SWAPD_S3_ENDPOINT="+m.Endpoint,
		"SWAPD_S3_ACCESS_KEY="+m.AccessKey, "SWAPD_S3_SECRET_KEY="+m.SecretKey, "SWAPD_S3_BUCKET=swapd-rss",
		fmt.Sprintf("SWAPD_MAX_INPUT_BYTES=%d", 64<<20), "SWAPD_WEBHOOK_SECRET=whsec_"+base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"SWAPD_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 300 {
			return fmt.Errorf("the api did not get ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	idle := status(cmd.Process.Pid, "VmRSS")

	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		return err
	}
	prefix := `{"source": {"base64": "` + base64.StdEncoding.EncodeToString(pngBytes.Bytes()) + `"}, "target": {"base64": "`
	suffix := `"}, "options": {"face_selector": "many"}}`
	decoded := (size - int64(len(prefix)+len(suffix))) / 4 * 3
	var wg sync.WaitGroup
	answers := make([]string, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			go func() {
				enc := base64.NewEncoder(base64.StdEncoding, pw)
				_, err := io.Copy(enc, io.MultiReader(bytes.NewReader(pngBytes.Bytes()), io.LimitReader(pattern{}, decoded-int64(pngBytes.Len()))))
				if err == nil {
					err = enc.Close()
				}
				pw.CloseWithError(err)
			}()
			body := io.MultiReader(strings.NewReader(prefix), pr, strings.NewReader(suffix))
			req, _ := http.NewRequest("POST", base+"/v1/jobs", body)
			req.Header.Set("Authorization", "Bearer sk_rss")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
		}()
	}
	wg.Wait()
	fmt.Printf("%d parallel JSON bodies of %d bytes (%d decoded bytes each) in %.1f s\n", n, size, decoded, time.Since(start).Seconds())
	for _, a := range answers {
		fmt.Println(" ", a)
	}
	fmt.Printf("api RSS idle %s, peak (VmHWM) %s\n", idle, status(cmd.Process.Pid, "VmHWM"))
	return nil
}

type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// status reads one field of /proc/pid/status.
func status(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
