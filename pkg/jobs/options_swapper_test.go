package jobs

import (
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
)

func TestSwapperOptionsValidate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	good := []Options{
		{Swapper: "hyperswap_1a_256", PixelBoost: 512},
		{Swapper: "inswapper_128", PixelBoost: 384},
		{Swapper: "simswap_unofficial_512", PixelBoost: 1024},
		{PixelBoost: 768}, // the worker's default model decides
		{SwapperWeight: f(0)}, {SwapperWeight: f(1)},
	}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	bad := []Options{
		{Swapper: "blendswap_256"},
		{Swapper: "ghost_1_256", PixelBoost: 128},
		{Swapper: "ghost_1_256", PixelBoost: 384},
		{Swapper: "simswap_unofficial_512", PixelBoost: 768},
		{PixelBoost: 300},
		{SwapperWeight: f(-0.01)}, {SwapperWeight: f(1.01)},
	}
	for _, o := range bad {
		if err := o.Validate(); errcode.Code(err) != errcode.InvalidRequest {
			t.Errorf("%+v: %v, want INVALID_REQUEST", o, err)
		}
	}
}
