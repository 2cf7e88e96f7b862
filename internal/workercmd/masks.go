package workercmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/swapd/swapd/internal/config"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
)

// parseModelList reads a name=file list such as SWAPD_OCCLUDER_MODELS
// (xseg_1=xseg_1.onnx,xseg_2=/abs/xseg_2.onnx); relative files are in dir. The
// names are checked when the pipeline opens the models.
func parseModelList(env, list, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range config.List(list) {
		name, file, ok := strings.Cut(kv, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("%s: %q is not name=file", env, kv)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s: %s listed twice", env, name)
		}
		out[name] = modelPath(dir, file)
	}
	return out, nil
}

// workerOffers is what a worker with pipeline p publishes for the API's submit
// check (pkg/api/offers.go): its swappers, its enhancers, the mask types it can
// make besides box, its occluders and its face parsers.
func workerOffers(p *faceswap.Pipeline) map[string][]string {
	var masks []string
	for _, t := range p.MaskTypes() {
		if t != faceswap.MaskBox {
			masks = append(masks, t)
		}
	}
	return map[string][]string{
		jobs.OfferSwapper:  p.Swappers(),
		jobs.OfferEnhancer: p.Enhancers(),
		jobs.OfferMask:     masks,
		jobs.OfferOccluder: p.Occluders(),
		jobs.OfferParser:   p.Parsers(),
	}
}

// profileItems lists offers as the "kind:name" items of the worker's profile
// (jobs.ProfileID), sorted.
func profileItems(offers map[string][]string) []string {
	var items []string
	for kind, names := range offers {
		for _, n := range names {
			items = append(items, jobs.OfferItem(kind, n))
		}
	}
	slices.Sort(items)
	return items
}
