package faceswap

import (
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// yoloTensor builds a [1,20,n] YOLOFace output with the given columns set.
func yoloTensor(n int, cols map[int][20]float32) inference.Tensor {
	d := make([]float32, 20*n)
	for c, v := range cols {
		for r := 0; r < 20; r++ {
			d[r*n+c] = v[r]
		}
	}
	return inference.Tensor{Shape: []int64{1, 20, int64(n)}, Data: d}
}

// yoloCol is one anchor: box centre/size, score, five keypoints (conf 0.9).
func yoloCol(cx, cy, w, h, score float32, kps [5][2]float32) [20]float32 {
	v := [20]float32{cx, cy, w, h, score}
	for i, k := range kps {
		v[5+3*i], v[6+3*i], v[7+3*i] = k[0], k[1], 0.9
	}
	return v
}

var testKps = [5][2]float32{{90, 100}, {110, 100}, {100, 110}, {92, 120}, {108, 120}}

func TestDecodeYOLOFace(t *testing.T) {
	cols := map[int][20]float32{
		3:    yoloCol(100, 110, 40, 60, 0.9, testKps),
		10:   yoloCol(102, 111, 42, 58, 0.8, testKps), // overlaps the first: NMS drops it
		77:   yoloCol(400, 300, 50, 50, 0.5, testKps), // exactly the threshold: dropped (score > threshold)
		8399: yoloCol(500, 500, 30, 30, 0.51, testKps),
		100:  yoloCol(300, 300, 30, 30, float32(math.NaN()), testKps),
	}
	faces, err := decodeYOLOFace(yoloTensor(8400, cols), 2, 1.5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 3 {
		t.Fatalf("%d faces above the threshold, want 3: %+v", len(faces), faces)
	}
	kept := nms(faces, NMSThreshold)
	if len(kept) != 2 {
		t.Fatalf("NMS kept %d, want 2", len(kept))
	}
	f := kept[0]
	if f.Score != 0.9 {
		t.Errorf("best face score %v", f.Score)
	}
	// Box: centre ± half size, then × (2, 1.5).
	want := [4]float32{80 * 2, 80 * 1.5, 120 * 2, 140 * 1.5}
	if f.Box != want {
		t.Errorf("box %v, want %v", f.Box, want)
	}
	for i, k := range testKps {
		if got := f.Landmarks[i]; got != (Point{k[0] * 2, k[1] * 1.5}) {
			t.Errorf("landmark %d %v, want %v", i, got, Point{k[0] * 2, k[1] * 1.5})
		}
	}
	if kept[1].Score != 0.51 || kept[1].Box[0] != 485*2 {
		t.Errorf("second face %+v", kept[1])
	}
	// A 2-D [20,N] output decodes the same; wrong shapes are errors.
	tt := yoloTensor(16, map[int][20]float32{5: yoloCol(10, 10, 4, 4, 0.7, testKps)})
	tt.Shape = []int64{20, 16}
	if got, err := decodeYOLOFace(tt, 1, 1, 0.5); err != nil || len(got) != 1 {
		t.Errorf("[20,N] output: %d faces, %v", len(got), err)
	}
	for _, shape := range [][]int64{{1, 15, 16}, {2, 20, 8}, {320}} {
		if _, err := decodeYOLOFace(inference.Tensor{Shape: shape, Data: make([]float32, 320)}, 1, 1, 0.5); err == nil {
			t.Errorf("shape %v accepted", shape)
		}
	}
}

func TestLetterboxYOLO(t *testing.T) {
	// A frame smaller than the canvas is not enlarged (FaceFusion restrict_frame).
	small := media.NewFrame(100, 50)
	for i := 0; i < len(small.Pix); i += 3 {
		small.Pix[i], small.Pix[i+1], small.Pix[i+2] = 255, 51, 0 // R, G, B
	}
	blob := make([]float32, 3*640*640)
	sx, sy := letterboxYOLO(small, blob, 640, 640)
	if sx != 1 || sy != 1 {
		t.Errorf("small frame factors %v %v, want 1 1", sx, sy)
	}
	plane := 640 * 640
	// BGR planes, x/255; zero padding right and below.
	at := func(c, x, y int) float32 { return blob[c*plane+y*640+x] }
	if at(0, 10, 10) != 0 || math.Abs(float64(at(1, 10, 10))-0.2) > 1e-6 || at(2, 10, 10) != 1 {
		t.Errorf("pixel (10,10) = B %v G %v R %v, want 0 0.2 1", at(0, 10, 10), at(1, 10, 10), at(2, 10, 10))
	}
	if at(2, 99, 49) != 1 || at(2, 100, 10) != 0 || at(2, 10, 50) != 0 {
		t.Errorf("frame edge / padding wrong: %v %v %v", at(2, 99, 49), at(2, 100, 10), at(2, 10, 50))
	}
	// A larger frame shrinks by min(640/w, 640/h) and maps back per axis.
	big := media.NewFrame(1280, 960)
	sx, sy = letterboxYOLO(big, blob, 640, 640)
	if sx != 2 || sy != 2 {
		t.Errorf("1280x960 factors %v %v, want 2 2", sx, sy)
	}
	odd := media.NewFrame(1000, 300)
	sx, sy = letterboxYOLO(odd, blob, 640, 640)
	if math.Abs(sx-1000.0/640) > 1e-9 || math.Abs(sy-300.0/192) > 1e-9 {
		t.Errorf("1000x300 factors %v %v, want %v %v", sx, sy, 1000.0/640, 300.0/192)
	}
}
