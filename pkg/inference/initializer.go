package inference

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX protobuf field numbers used here (onnx/onnx.proto).
const (
	modelGraph = 7 // ModelProto.graph

	graphInitializer = 5 // GraphProto.initializer

	tensorDims         = 1  // TensorProto.dims (repeated int64)
	tensorDataType     = 2  // TensorProto.data_type
	tensorFloatData    = 4  // TensorProto.float_data (repeated float)
	tensorInt32Data    = 5  // TensorProto.int32_data (fp16 bit patterns live here)
	tensorName         = 8  // TensorProto.name
	tensorRawData      = 9  // TensorProto.raw_data
	tensorDoubleData   = 10 // TensorProto.double_data
	tensorDataLocation = 14 // TensorProto.data_location (1 = EXTERNAL)

	dataTypeFloat   = 1
	dataTypeFloat16 = 10
	dataTypeDouble  = 11
)

// LastInitializer returns the last entry of graph.initializer of the ONNX model at
// modelPath, converted to float32. This is how inswapper's 512x512 "emap" matrix is
// found: InsightFace and FaceFusion both read model.graph.initializer[-1], and the
// fp16 export stores it as FLOAT16, which is widened here.
//
// The file is memory-mapped (read whole on platforms without mmap) and walked with
// protowire, skipping every field it does not need, so for the 554 MB inswapper only
// the small tensor headers and the 1 MB emap itself are actually paged in.
func LastInitializer(modelPath string) (name string, dims []int64, data []float32, err error) {
	buf, release, err := mapFile(modelPath)
	if err != nil {
		return "", nil, nil, fmt.Errorf("inference: read %s: %w", modelPath, err)
	}
	defer release()
	graph, err := lastField(buf, modelGraph)
	if err != nil {
		return "", nil, nil, fmt.Errorf("inference: %s: ModelProto: %w", modelPath, err)
	}
	if graph == nil {
		return "", nil, nil, fmt.Errorf("inference: %s: no graph", modelPath)
	}
	init, err := lastField(graph, graphInitializer)
	if err != nil {
		return "", nil, nil, fmt.Errorf("inference: %s: GraphProto: %w", modelPath, err)
	}
	if init == nil {
		return "", nil, nil, fmt.Errorf("inference: %s: graph has no initializers", modelPath)
	}
	name, dims, data, err = decodeTensor(init)
	if err != nil {
		return "", nil, nil, fmt.Errorf("inference: %s: last initializer: %w", modelPath, err)
	}
	return name, dims, data, nil
}

// lastField returns the payload of the last length-delimited field num in msg.
func lastField(msg []byte, num protowire.Number) ([]byte, error) {
	var last []byte
	for len(msg) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(msg)
		if tagLen < 0 {
			return nil, protowire.ParseError(tagLen)
		}
		msg = msg[tagLen:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			last = v
			msg = msg[l:]
			continue
		}
		l := protowire.ConsumeFieldValue(n, typ, msg)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		msg = msg[l:]
	}
	return last, nil
}

// decodeTensor decodes a TensorProto holding FLOAT, FLOAT16 or DOUBLE data, stored
// either as raw_data (little-endian) or in the typed repeated fields.
func decodeTensor(msg []byte) (name string, dims []int64, data []float32, err error) {
	dataType := int64(-1)
	var raw []byte
	var floats []float32
	var halves []uint16
	var doubles []float64
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", nil, nil, protowire.ParseError(n)
		}
		msg = msg[n:]
		switch {
		case num == tensorDims && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			dims = append(dims, int64(v))
			msg = msg[l:]
		case num == tensorDims && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			for len(b) > 0 {
				v, vl := protowire.ConsumeVarint(b)
				if vl < 0 {
					return "", nil, nil, protowire.ParseError(vl)
				}
				dims = append(dims, int64(v))
				b = b[vl:]
			}
			msg = msg[l:]
		case num == tensorDataType && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			dataType = int64(v)
			msg = msg[l:]
		case num == tensorFloatData && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 || len(b)%4 != 0 {
				return "", nil, nil, errors.New("bad packed float_data")
			}
			for i := 0; i < len(b); i += 4 {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
			}
			msg = msg[l:]
		case num == tensorFloatData && typ == protowire.Fixed32Type:
			v, l := protowire.ConsumeFixed32(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			floats = append(floats, math.Float32frombits(v))
			msg = msg[l:]
		case num == tensorInt32Data && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			for len(b) > 0 {
				v, vl := protowire.ConsumeVarint(b)
				if vl < 0 {
					return "", nil, nil, protowire.ParseError(vl)
				}
				halves = append(halves, uint16(v))
				b = b[vl:]
			}
			msg = msg[l:]
		case num == tensorInt32Data && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			halves = append(halves, uint16(v))
			msg = msg[l:]
		case num == tensorDoubleData && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 || len(b)%8 != 0 {
				return "", nil, nil, errors.New("bad packed double_data")
			}
			for i := 0; i < len(b); i += 8 {
				doubles = append(doubles, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
			}
			msg = msg[l:]
		case num == tensorName && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			name = string(b)
			msg = msg[l:]
		case num == tensorRawData && typ == protowire.BytesType:
			b, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			raw = b
			msg = msg[l:]
		case num == tensorDataLocation && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			if v == 1 {
				return "", nil, nil, errors.New("tensor data is stored externally, which is not supported")
			}
			msg = msg[l:]
		default:
			l := protowire.ConsumeFieldValue(num, typ, msg)
			if l < 0 {
				return "", nil, nil, protowire.ParseError(l)
			}
			msg = msg[l:]
		}
	}
	count := int64(1)
	for _, d := range dims {
		if d < 0 {
			return "", nil, nil, fmt.Errorf("tensor %q has negative dimension %d", name, d)
		}
		count *= d
	}
	switch dataType {
	case dataTypeFloat:
		if raw != nil {
			if int64(len(raw)) != 4*count {
				return "", nil, nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d", name, len(raw), 4*count)
			}
			data = make([]float32, count)
			for i := range data {
				data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		} else {
			data = floats
		}
	case dataTypeFloat16:
		if raw != nil {
			if int64(len(raw)) != 2*count {
				return "", nil, nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d", name, len(raw), 2*count)
			}
			data = make([]float32, count)
			for i := range data {
				data[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
			}
		} else {
			data = make([]float32, len(halves))
			for i, h := range halves {
				data[i] = Float16ToFloat32(h)
			}
		}
	case dataTypeDouble:
		if raw != nil {
			if int64(len(raw)) != 8*count {
				return "", nil, nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d", name, len(raw), 8*count)
			}
			doubles = make([]float64, count)
			for i := range doubles {
				doubles[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		data = make([]float32, len(doubles))
		for i, d := range doubles {
			data[i] = float32(d)
		}
	case -1:
		return "", nil, nil, fmt.Errorf("tensor %q has no data_type", name)
	default:
		return "", nil, nil, fmt.Errorf("tensor %q has data_type %d; want FLOAT (1), FLOAT16 (10) or DOUBLE (11)", name, dataType)
	}
	if int64(len(data)) != count {
		return "", nil, nil, fmt.Errorf("tensor %q: %d values for dims %v", name, len(data), dims)
	}
	return name, dims, data, nil
}

// Float16ToFloat32 widens an IEEE 754 half-precision bit pattern.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal: value = frac * 2^-24
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}
