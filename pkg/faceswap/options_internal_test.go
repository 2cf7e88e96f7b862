package faceswap

import (
	"slices"
	"testing"
)

// EnhancerModels, which Validate accepts, and enhancerSpecs, which New can open,
// name the same enhancers: a name in one only would pass validation and then fail
// on every worker, or be openable but never requested.
func TestEnhancerModelsHaveSpecs(t *testing.T) {
	for _, name := range EnhancerModels {
		if _, ok := enhancerSpecs[name]; !ok {
			t.Errorf("EnhancerModels has %q, which has no spec", name)
		}
	}
	for name := range enhancerSpecs {
		if !slices.Contains(EnhancerModels, name) {
			t.Errorf("enhancer spec %q is not in EnhancerModels", name)
		}
	}
}
