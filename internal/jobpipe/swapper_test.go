package jobpipe

import (
	"fmt"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
)

// A swapper the worker lacks is UNSUPPORTED_OPTION (a 400 code), for good.
func TestSwapperUnavailableIsUnsupportedOption(t *testing.T) {
	err := coded(fmt.Errorf("%w: %q", faceswap.ErrSwapperUnavailable, "ghost_1_256"))
	if errcode.Code(err) != errcode.UnsupportedOption || errcode.HTTPStatus(errcode.Code(err)) != 400 {
		t.Errorf("coded: %v", err)
	}
}

// A mask model the worker lacks is UNSUPPORTED_OPTION too.
func TestMaskUnavailableIsUnsupportedOption(t *testing.T) {
	err := coded(fmt.Errorf("%w: region mask with parser %q", faceswap.ErrMaskUnavailable, "bisenet_resnet_18"))
	if errcode.Code(err) != errcode.UnsupportedOption {
		t.Errorf("coded: %v", err)
	}
}
