// Package onnxgen writes small ONNX models by hand (protowire, no generated code)
// for tests. There is no small real face-swap model, so tests use models with the
// official input/output signatures, loaded by production code exactly as the real
// files would be.
package onnxgen

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX element types (TensorProto.DataType).
const (
	Float  = 1
	Int64  = 7
	Double = 11
)

// Versions written into every model: IR 8 and the default-domain opset 13, which
// every ONNX Runtime from 1.10 on accepts.
const (
	IRVersion = 8
	Opset     = 13
)

// Graph is an ONNX graph to serialise.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor // order is preserved: the last one is graph.initializer[-1]
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is one operator.
type Node struct {
	Name    string
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// Attr is a node attribute; exactly one of I, F, S, Ints is meaningful, chosen by Type.
type Attr struct {
	Name string
	Type int // AttrFloat, AttrInt, AttrString or AttrInts
	F    float32
	I    int64
	S    string
	Ints []int64
}

// Attribute types (AttributeProto.AttributeType).
const (
	AttrFloat  = 1
	AttrInt    = 2
	AttrString = 3
	AttrInts   = 7
)

// Tensor is an initializer: float32 (Float) or int64 (Int64) data, or Raw: float32
// values already in little-endian bytes (what large generated weights are built as,
// so that they are not held twice while the model is marshalled).
type Tensor struct {
	Name  string
	Dims  []int64 // empty for a scalar
	Float []float32
	Int64 []int64
	Raw   []byte
}

// ValueInfo declares a graph input or output. A negative dimension is written as
// the symbolic dimension named by DimParams (or "N" when none is given).
type ValueInfo struct {
	Name      string
	ElemType  int
	Dims      []int64
	DimParams []string
}

// Marshal returns the ModelProto bytes for g.
func (g Graph) Marshal() []byte {
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType) // ModelProto.ir_version
	m = protowire.AppendVarint(m, IRVersion)
	m = appendString(m, 2, "swapd-onnxgen") // producer_name
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendBytes(m, g.marshalGraph())
	var opset []byte
	opset = appendString(opset, 1, "") // domain
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, Opset)
	m = protowire.AppendTag(m, 8, protowire.BytesType) // opset_import
	m = protowire.AppendBytes(m, opset)
	return m
}

func (g Graph) marshalGraph() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, n.marshal())
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializers {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, t.marshal())
	}
	for _, v := range g.Inputs {
		b = protowire.AppendTag(b, 11, protowire.BytesType)
		b = protowire.AppendBytes(b, v.marshal())
	}
	for _, v := range g.Outputs {
		b = protowire.AppendTag(b, 12, protowire.BytesType)
		b = protowire.AppendBytes(b, v.marshal())
	}
	return b
}

func (n Node) marshal() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out)
	}
	if n.Name != "" {
		b = appendString(b, 3, n.Name)
	}
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, a.marshal())
	}
	return b
}

func (a Attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = appendString(b, 4, a.S)
	case AttrInts:
		for _, v := range a.Ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Type))
	return b
}

func (t Tensor) marshal() []byte {
	var b []byte
	if len(t.Dims) > 0 {
		var packed []byte
		for _, d := range t.Dims {
			packed = protowire.AppendVarint(packed, uint64(d))
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, packed)
	}
	var raw []byte
	elem := Float
	switch {
	case t.Raw != nil:
		raw = t.Raw
	case t.Int64 != nil:
		elem = Int64
		raw = make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	default:
		raw = make([]byte, 4*len(t.Float))
		for i, v := range t.Float {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(elem))
	b = appendString(b, 8, t.Name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

func (v ValueInfo) marshal() []byte {
	var shape []byte
	for i, d := range v.Dims {
		var dim []byte
		if d >= 0 {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		} else {
			p := "N"
			if i < len(v.DimParams) && v.DimParams[i] != "" {
				p = v.DimParams[i]
			}
			dim = appendString(dim, 2, p)
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType) // elem_type
	tensor = protowire.AppendVarint(tensor, uint64(v.ElemType))
	tensor = protowire.AppendTag(tensor, 2, protowire.BytesType) // shape
	tensor = protowire.AppendBytes(tensor, shape)
	var typ []byte
	typ = protowire.AppendTag(typ, 1, protowire.BytesType) // tensor_type
	typ = protowire.AppendBytes(typ, tensor)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, typ)
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}
