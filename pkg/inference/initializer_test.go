package inference

import (
	"encoding/binary"
	"github.com/swapd/swapd/internal/fixtures"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func tensorHeader(name string, dataType int, dims ...int64) []byte {
	var b, packed []byte
	for _, d := range dims {
		packed = protowire.AppendVarint(packed, uint64(d))
	}
	b = protowire.AppendTag(b, tensorDims, protowire.BytesType)
	b = protowire.AppendBytes(b, packed)
	b = protowire.AppendTag(b, tensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(dataType))
	b = protowire.AppendTag(b, tensorName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	return b
}

func withRaw(h, raw []byte) []byte {
	h = protowire.AppendTag(h, tensorRawData, protowire.BytesType)
	return protowire.AppendBytes(h, raw)
}

func wrap(num protowire.Number, inner []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

func TestFloat16ToFloat32(t *testing.T) {
	cases := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x3555: 0.333251953125, 0x7bff: 65504,
		0x0001: 5.960464477539063e-08, 0x0400: 6.103515625e-05, 0xfc00: float32(math.Inf(-1)),
	}
	for h, want := range cases {
		if got := Float16ToFloat32(h); got != want {
			t.Errorf("%#04x: got %v want %v", h, got, want)
		}
	}
	if v := Float16ToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("NaN decoded as %v", v)
	}
}

func TestDecodeTensorEncodings(t *testing.T) {
	// FLOAT16 in raw_data, as the fp16 inswapper stores emap.
	raw := make([]byte, 4)
	binary.LittleEndian.PutUint16(raw, 0x3c00)
	binary.LittleEndian.PutUint16(raw[2:], 0xc000)
	name, dims, data, err := decodeTensor(withRaw(tensorHeader("h", dataTypeFloat16, 2), raw))
	if err != nil || name != "h" || len(dims) != 1 || data[0] != 1 || data[1] != -2 {
		t.Fatalf("fp16 raw: %q %v %v %v", name, dims, data, err)
	}
	// FLOAT16 in int32_data (packed varints).
	h := tensorHeader("h2", dataTypeFloat16, 1, 2)
	h = protowire.AppendTag(h, tensorInt32Data, protowire.BytesType)
	h = protowire.AppendBytes(h, protowire.AppendVarint(protowire.AppendVarint(nil, 0x3800), 0x4000))
	if _, _, data, err = decodeTensor(h); err != nil || data[0] != 0.5 || data[1] != 2 {
		t.Fatalf("fp16 int32_data: %v %v", data, err)
	}
	// FLOAT in float_data, packed, with unpacked dims.
	var f []byte
	f = protowire.AppendTag(f, tensorDims, protowire.VarintType)
	f = protowire.AppendVarint(f, 3)
	f = protowire.AppendTag(f, tensorDataType, protowire.VarintType)
	f = protowire.AppendVarint(f, dataTypeFloat)
	var packed []byte
	for _, v := range []float32{1.5, -3, 7} {
		packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(v))
	}
	f = protowire.AppendTag(f, tensorFloatData, protowire.BytesType)
	f = protowire.AppendBytes(f, packed)
	if _, dims, data, err = decodeTensor(f); err != nil || dims[0] != 3 || data[2] != 7 {
		t.Fatalf("float_data: %v %v %v", dims, data, err)
	}
	// Wrong size and unsupported types are errors.
	if _, _, _, err = decodeTensor(withRaw(tensorHeader("x", dataTypeFloat, 3), make([]byte, 8))); err == nil {
		t.Error("short raw_data accepted")
	}
	if _, _, _, err = decodeTensor(withRaw(tensorHeader("x", 7, 1), make([]byte, 8))); err == nil {
		t.Error("INT64 accepted")
	}
}

// TestLastInitializerHugeSparseFile checks that the real inswapper layout (hundreds
// of MB of weights, then emap) is handled without reading the weights: the weights
// here are a 600 MB hole in a sparse file, and the call must stay fast.
func TestLastInitializerHugeSparseFile(t *testing.T) {
	const fillerFloats = 150 << 20 // 600 MB
	fillerHead := tensorHeader("weights", dataTypeFloat, fillerFloats)
	fillerHead = protowire.AppendTag(fillerHead, tensorRawData, protowire.BytesType)
	fillerHead = protowire.AppendVarint(fillerHead, 4*fillerFloats)
	fillerLen := len(fillerHead) + 4*fillerFloats

	emap := make([]byte, 4*512*512)
	for i := 0; i < 512*512; i++ {
		binary.LittleEndian.PutUint32(emap[4*i:], math.Float32bits(float32(i%1000)/1000))
	}
	emapTensor := wrap(graphInitializer, withRaw(tensorHeader("emap", dataTypeFloat, 512, 512), emap))

	graphLen := len(protowire.AppendTag(nil, graphInitializer, protowire.BytesType)) +
		protowire.SizeVarint(uint64(fillerLen)) + fillerLen + len(emapTensor)
	var head []byte
	head = protowire.AppendTag(head, 1, protowire.VarintType) // ir_version
	head = protowire.AppendVarint(head, 8)
	head = protowire.AppendTag(head, modelGraph, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(graphLen))
	head = protowire.AppendTag(head, graphInitializer, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(fillerLen))
	head = append(head, fillerHead...)

	path := filepath.Join(t.TempDir(), "big.onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(4*fillerFloats, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(emapTensor); err != nil {
		t.Fatal(err)
	}
	f.Close()

	start := time.Now()
	name, dims, data, err := LastInitializer(path)
	if err != nil {
		t.Fatal(err)
	}
	if name != "emap" || len(dims) != 2 || dims[0] != 512 || dims[1] != 512 || len(data) != 512*512 {
		t.Fatalf("got %q %v len %d", name, dims, len(data))
	}
	if data[1] != 0.001 || data[999] != 0.999 {
		t.Fatalf("emap values %v %v", data[1], data[999])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LastInitializer took %v on a sparse 600 MB file", d)
	}
}

func TestLastInitializerErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, _, err := LastInitializer(filepath.Join(dir, "missing.onnx")); err == nil {
		t.Error("missing file accepted")
	}
	empty := filepath.Join(dir, "empty.onnx")
	os.WriteFile(empty, nil, 0o644)
	if _, _, _, err := LastInitializer(empty); err == nil {
		t.Error("empty file accepted")
	}
	garbage := filepath.Join(dir, "garbage.onnx")
	os.WriteFile(garbage, []byte{0xff, 0xff, 0xff}, 0o644)
	if _, _, _, err := LastInitializer(garbage); err == nil {
		t.Error("garbage accepted")
	}
}

func TestLastInitializerRealModel(t *testing.T) {
	name, dims, data, err := LastInitializer(fixtures.Path("models", "scrfd_500m.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	if name == "" || int64(len(data)) != n {
		t.Fatalf("%q dims %v len %d", name, dims, len(data))
	}
}
