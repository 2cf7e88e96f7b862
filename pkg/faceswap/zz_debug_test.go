package faceswap_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

func toImage(f media.Frame) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for i := 0; i < f.Width*f.Height; i++ {
		img.Pix[i*4], img.Pix[i*4+1], img.Pix[i*4+2], img.Pix[i*4+3] = f.Pix[i*3], f.Pix[i*3+1], f.Pix[i*3+2], 255
	}
	return img
}

func savePNG(name string, img image.Image) {
	f, _ := os.Create(name)
	png.Encode(f, img)
	f.Close()
}

func TestDebugDraw(t *testing.T) {
	p := testPipeline(t)
	for _, n := range []string{"group_test3.jpg", "grace_hopper.jpg", "astronaut.png"} {
		fr := loadFrame(t, n)
		faces, _ := p.Detect(context.Background(), fr, faceswap.Options{})
		img := toImage(fr)
		red := color.RGBA{255, 0, 0, 255}
		for _, f := range faces {
			t.Logf("%s %+v", n, f)
			for x := int(f.Box[0]); x <= int(f.Box[2]); x++ {
				img.Set(x, int(f.Box[1]), red)
				img.Set(x, int(f.Box[3]), red)
			}
			for y := int(f.Box[1]); y <= int(f.Box[3]); y++ {
				img.Set(int(f.Box[0]), y, red)
				img.Set(int(f.Box[2]), y, red)
			}
			for _, l := range f.Landmarks {
				for d := -2; d <= 2; d++ {
					img.Set(int(l.X)+d, int(l.Y), color.RGBA{0, 255, 0, 255})
					img.Set(int(l.X), int(l.Y)+d, color.RGBA{0, 255, 0, 255})
				}
			}
		}
		savePNG("/tmp/dbg_"+n+".png", img)
	}
}

func TestDebugSwap(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, _ := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	out, _, err := p.Swap(ctx, loadFrame(t, "grace_hopper.jpg"), src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	savePNG("/tmp/dbg_swap.png", toImage(out))
	faces, _ := p.Detect(ctx, loadFrame(t, "grace_hopper.jpg"), faceswap.Options{})
	crop := faceswap.WarpFrame(loadFrame(t, "grace_hopper.jpg"), faceswap.AlignTransform(faces[0].Landmarks, faceswap.ArcFace128, 128), 128, 128)
	savePNG("/tmp/dbg_crop.png", toImage(crop))
}
