package client_test

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/client"
	"github.com/swapd/swapd/pkg/jobs"
)

// The examples run against a real swapd (Redis, MinIO, the API and a worker with the
// small test models), started once for the package; in a program, the base URL and
// key come from the deployment (SWAPD_URL, SWAPD_API_KEY for swapctl).
var swapd *stack.Stack

func TestMain(m *testing.M) {
	s, err := stack.Start(nil, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	swapd = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

func face(name string) string { return filepath.Join(stack.Testdata(), "faces", name) }

// Swap a face in an image: local files are uploaded through presigned URLs, straight
// to object storage; Wait polls until the job ends; Download fetches the result.
func ExampleClient_Submit() {
	ctx := context.Background()
	c := client.New(swapd.URL, swapd.Key)
	job, err := c.Submit(ctx, client.Request{
		Sources: []string{face("astronaut.png")},
		Target:  face("grace_hopper.jpg"),
		Options: &jobs.Options{OutputFormat: "png"},
	})
	if err != nil {
		fmt.Println("submit:", err)
		return
	}
	job, err = c.Wait(ctx, job.ID, nil)
	if err != nil {
		fmt.Println("wait:", err)
		return
	}
	out := filepath.Join(os.TempDir(), job.ID+".png")
	defer os.Remove(out)
	if err := c.Download(ctx, job, out); err != nil {
		fmt.Println("download:", err)
		return
	}
	fmt.Println(job.Status, job.Output.ContentType, job.Output.Faces, "face")
	// Output: succeeded image/png 1 face
}

// Analyze a group photo, then give two of its people their own sources: the swap
// names the analysis and the same target (the analysis's upload key), and maps
// identities to sources (inputs as upload keys or URLs); the third person is kept.
func ExampleClient_Analyze() {
	ctx := context.Background()
	c := client.New(swapd.URL, swapd.Key)
	an, err := c.Analyze(ctx, face("group_test3.jpg"), nil, "")
	if err == nil {
		an, err = c.Wait(ctx, an.ID, nil)
	}
	if err != nil {
		fmt.Println("analyze:", err)
		return
	}
	a := an.Output.Analysis
	fmt.Println(an.Status, len(a.Faces), "faces,", a.Identities[0].ID, "leftmost")
	astro, err := c.Upload(ctx, face("astronaut.png"))
	if err != nil {
		fmt.Println("upload:", err)
		return
	}
	grace, err := c.Upload(ctx, face("grace_hopper.jpg"))
	if err != nil {
		fmt.Println("upload:", err)
		return
	}
	third := 2
	job, err := c.Submit(ctx, client.Request{Target: an.Target.Key, Options: &jobs.Options{
		Analysis: an.ID,
		Mappings: []jobs.Mapping{
			{Identity: a.Identities[0].ID, Source: []jobs.Input{{Key: astro}}},
			{Face: &third, Source: []jobs.Input{{Key: grace}}},
		},
	}})
	if err == nil {
		job, err = c.Wait(ctx, job.ID, nil)
	}
	if err != nil {
		fmt.Println("swap:", err)
		return
	}
	fmt.Println(job.Status, job.Output.Faces, "faces swapped")
	// Output:
	// succeeded 3 faces, person-1 leftmost
	// succeeded 2 faces swapped
}

// A job that cannot succeed ends failed with a stable code; IsCode tells the codes
// apart, here for a source image without a face.
func ExampleIsCode() {
	ctx := context.Background()
	c := client.New(swapd.URL, swapd.Key)
	blank := filepath.Join(os.TempDir(), "swapd-example-blank.png")
	defer os.Remove(blank)
	if err := writeGrey(blank, 256, 256); err != nil {
		fmt.Println(err)
		return
	}
	job, err := c.Submit(ctx, client.Request{Sources: []string{blank}, Target: face("grace_hopper.jpg")})
	if err == nil {
		job, err = c.Wait(ctx, job.ID, nil)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.Status, job.Error.Code)
	// A key the API does not know is refused before anything happens.
	_, err = client.New(swapd.URL, "sk_not_a_key").Probe(ctx, "")
	fmt.Println(client.IsCode(err, "UNAUTHORIZED"))
	// Output:
	// failed NO_FACE_IN_SOURCE
	// true
}

// A probe job travels the whole path (API, queue, a device slot, the record, the
// webhook) without inference: a health check of a deployment from outside.
func ExampleClient_Probe() {
	ctx := context.Background()
	c := client.New(swapd.URL, swapd.Key)
	job, err := c.Probe(ctx, "")
	if err == nil {
		job, err = c.Wait(ctx, job.ID, nil)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.Kind, job.Status)
	// Output: probe succeeded
}

// writeGrey writes a mid-grey PNG: an image with no face in it.
func writeGrey(path string, w, h int) error {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
