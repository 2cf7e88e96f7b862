// Package models lists the ONNX models swapd runs and downloads them with
// checksum verification and a progress bar.
//
// Provenance (see docs/face-pipeline-facts.md §1): InsightFace publishes its
// detector and recognizer only inside model-pack zips (buffalo_l.zip) and no
// longer hosts inswapper_128 at all, so production deployments fetch
// re-hosted copies. FaceFusion re-hosts them as single files under
// facefusion-assets "models-3.0.0" on GitHub (mirrored on Hugging Face), each
// with a sibling X.hash file holding the CRC32 of X.onnx as 8 lowercase hex
// digits. A CRC32 from the same host detects truncation and corruption, not
// tampering; where a SHA-256 is known it is pinned here and used instead.
//
// Licence: each entry carries its own (FaceFusion's __metadata__ label).
// InsightFace states that all its pretrained models (the detectors, the
// recognizer, inswapper) are for non-commercial research purposes only; every
// swapper is fed an embedding from that recognizer, so no swap chain here is
// clear for commercial use (ghost is Apache-2.0 itself). Operators are
// responsible for having the right to use them.
package models

import (
	"fmt"
	"strings"
)

// Role is what a model does in the pipeline.
type Role string

const (
	RoleDetector   Role = "detector"
	RoleRecognizer Role = "recognizer"
	RoleSwapper    Role = "swapper"
	RoleEnhancer   Role = "enhancer"
	// RoleConverter is an embedding converter: FaceFusion's crossface models,
	// which map an ArcFace embedding into the identity space the ghost and
	// SimSwap swappers were trained with.
	RoleConverter Role = "converter"
	// RoleOccluder, RoleParser and RoleLandmarker are the face mask models:
	// XSeg occluders (occlusion masks), BiSeNet face parsers (region masks)
	// and the 68-point landmarkers area masks are drawn from.
	RoleOccluder   Role = "occluder"
	RoleParser     Role = "parser"
	RoleLandmarker Role = "landmarker"
)

// Source is one place to download a model from.
type Source struct {
	URL string
	// HashURL is a FaceFusion-style sidecar holding the file's CRC32 (%08x).
	// It is used only when the Entry has no SHA256.
	HashURL string
}

// Entry describes one model file.
type Entry struct {
	Name string // catalogue key, e.g. "inswapper_128"
	Role Role
	File string // file name on disk
	// Sources are tried in order until one yields a file that verifies.
	Sources []Source
	// Size in bytes when known (0 otherwise). Advisory: used for progress
	// and to cap how much a download may write, not to reject a file.
	Size int64
	// SHA256 (lowercase hex) when known; it then is the only check. Without
	// it each Source must have a HashURL.
	SHA256  string
	License string
	// Default marks the model the pipeline uses for its Role unless
	// configured otherwise.
	Default bool
	// Note records where the facts above come from and what is not verified.
	Note string
}

const (
	ffGitHub      = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/"
	ffHuggingFace = "https://huggingface.co/facefusion/models-3.0.0/resolve/main/"

	licenseInsightFace = "InsightFace pretrained model: non-commercial research purposes only (FaceFusion label: Non-Commercial)"
)

// ffSources returns FaceFusion's GitHub and Hugging Face copies of stem.onnx
// with their .hash sidecars, in FaceFusion's default provider order.
func ffSources(stem string) []Source { return ffSourcesAt("models-3.0.0", stem) }

// ffSourcesAt is ffSources for another facefusion-assets release (models-3.3.0
// holds the hyperswap models, models-3.4.0 the crossface converters).
func ffSourcesAt(release, stem string) []Source {
	gh := "https://github.com/facefusion/facefusion-assets/releases/download/" + release + "/"
	hf := "https://huggingface.co/facefusion/" + release + "/resolve/main/"
	return []Source{
		{URL: gh + stem + ".onnx", HashURL: gh + stem + ".hash"},
		{URL: hf + stem + ".onnx", HashURL: hf + stem + ".hash"},
	}
}

const (
	licenseResearchRAIL = "ResearchRAIL (FaceFusion label): research use; not for commercial use"
	licenseGhost        = "Apache-2.0 (FaceFusion label; ai-forever) — but fed an InsightFace ArcFace embedding, whose models are non-commercial"
	licenseSimSwap      = "Non-Commercial (FaceFusion label; neuralchen SimSwap)"
	licenseXSeg         = "GPL-3.0 (FaceFusion label; vendor DeepFaceLab): copyleft terms apply to distributing the model"
	licenseCrossface    = "no licence in FaceFusion's metadata (a FaceFusion model, models-3.4.0); treat as FaceFusion's, ask its authors before commercial use"
)

// catalogue is the source of truth; Catalogue returns a copy.
var catalogue = []Entry{
	{
		Name:    "retinaface_10g",
		Role:    RoleDetector,
		File:    "retinaface_10g.onnx",
		Sources: ffSources("retinaface_10g"),
		License: licenseInsightFace,
		Default: true,
		Note: "FaceFusion's 'retinaface' detector (vendor InsightFace, models-3.0.0; FF facefusion/face_detector.py), " +
			"decoded by FF exactly like SCRFD: strides 8/16/32, 2 anchors, 9 outputs with 5 keypoints. " +
			"It stands in for InsightFace buffalo_l's det_10g.onnx (SCRFD-10G, which IF's model_zoo README labels " +
			"'RetinaFace-10GF'); that it is byte-identical to det_10g is NOT verified. det_10g itself is published only " +
			"inside https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip (326,587,068 B per a " +
			"third-party manifest) with no published checksum, so it is not a download source here. " +
			"Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "scrfd_2.5g",
		Role:    RoleDetector,
		File:    "scrfd_2.5g.onnx",
		Sources: ffSources("scrfd_2.5g"),
		License: licenseInsightFace,
		Note: "FaceFusion's 'scrfd' detector (vendor InsightFace, models-3.0.0): SCRFD-2.5G, same 9-output layout as " +
			"retinaface_10g, lighter and less accurate. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "arcface_w600k_r50",
		Role:    RoleRecognizer,
		File:    "arcface_w600k_r50.onnx",
		Sources: ffSources("arcface_w600k_r50"),
		Size:    174_388_474,
		License: licenseInsightFace,
		Default: true,
		Note: "FaceFusion's re-host of InsightFace buffalo_l w600k_r50.onnx (ArcFace R50 trained on WebFace600K; " +
			"input 'input' 1x3x112x112 RGB, output 1x512). Size from a third-party listing of FF's files; " +
			"checksum: CRC32 sidecar.",
	},
	{
		Name: "inswapper_128",
		Role: RoleSwapper,
		File: "inswapper_128.onnx",
		Sources: []Source{
			{URL: "https://huggingface.co/hacksider/deep-live-cam/resolve/main/inswapper_128.onnx"},
		},
		Size:    554_253_681,
		SHA256:  "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",
		License: licenseInsightFace,
		Default: true,
		Note: "The fp32 inswapper that Deep-Live-Cam downloads (InsightFace no longer distributes it). " +
			"Size and SHA-256 from Hugging Face LFS pointers as reported by third parties; the SHA-256 pins " +
			"the exact file whatever the host serves.",
	},
	{
		Name:    "inswapper_128_fp16",
		Role:    RoleSwapper,
		File:    "inswapper_128_fp16.onnx",
		Sources: ffSources("inswapper_128_fp16"),
		Size:    277_680_829,
		License: licenseInsightFace,
		Note: "FaceFusion's half-precision inswapper (models-3.0.0), half the size and faster on GPUs with fp16 " +
			"support. Size from a third-party listing of FF's files; checksum: CRC32 sidecar.",
	},
	{
		Name:    "hyperswap_1a_256",
		Role:    RoleSwapper,
		File:    "hyperswap_1a_256.onnx",
		Sources: ffSourcesAt("models-3.3.0", "hyperswap_1a_256"),
		License: licenseResearchRAIL,
		Note: "FaceFusion's HyperSwap 1a (vendor FaceFusion, 2025, models-3.3.0), FaceFusion's default swapper since 3.4: " +
			"arcface_128 template at 256 px, input (x/255 - 0.5)/0.5, source = the L2-normalised ArcFace embedding, output " +
			"mapped back with x*0.5 + 0.5 (FF processors/modules/face_swapper/core.py). Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "hyperswap_1b_256",
		Role:    RoleSwapper,
		File:    "hyperswap_1b_256.onnx",
		Sources: ffSourcesAt("models-3.3.0", "hyperswap_1b_256"),
		License: licenseResearchRAIL,
		Note:    "FaceFusion's HyperSwap 1b (models-3.3.0), as hyperswap_1a_256. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "hyperswap_1c_256",
		Role:    RoleSwapper,
		File:    "hyperswap_1c_256.onnx",
		Sources: ffSourcesAt("models-3.3.0", "hyperswap_1c_256"),
		License: licenseResearchRAIL,
		Note:    "FaceFusion's HyperSwap 1c (models-3.3.0), as hyperswap_1a_256. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "ghost_1_256",
		Role:    RoleSwapper,
		File:    "ghost_1_256.onnx",
		Sources: ffSources("ghost_1_256"),
		License: licenseGhost,
		Note: "ai-forever's GHOST (2022) as re-hosted by FaceFusion (models-3.0.0): arcface_112_v1 template at 256 px, " +
			"input (x/255 - 0.5)/0.5, source = crossface_ghost(ArcFace embedding), output x*0.5 + 0.5. Needs crossface_ghost. " +
			"Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "ghost_2_256",
		Role:    RoleSwapper,
		File:    "ghost_2_256.onnx",
		Sources: ffSources("ghost_2_256"),
		License: licenseGhost,
		Note:    "GHOST 2 (models-3.0.0), as ghost_1_256. Needs crossface_ghost. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "ghost_3_256",
		Role:    RoleSwapper,
		File:    "ghost_3_256.onnx",
		Sources: ffSources("ghost_3_256"),
		License: licenseGhost,
		Note:    "GHOST 3 (models-3.0.0), as ghost_1_256. Needs crossface_ghost. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "simswap_256",
		Role:    RoleSwapper,
		File:    "simswap_256.onnx",
		Sources: ffSources("simswap_256"),
		License: licenseSimSwap,
		Note: "SimSwap (neuralchen, 2020) as re-hosted by FaceFusion (models-3.0.0): arcface_112_v1 template at 256 px, " +
			"input ImageNet mean (0.485, 0.456, 0.406) / std (0.229, 0.224, 0.225), source = normalize(crossface_simswap(embedding)), " +
			"output used as is in [0,1]. Needs crossface_simswap. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "simswap_unofficial_512",
		Role:    RoleSwapper,
		File:    "simswap_unofficial_512.onnx",
		Sources: ffSources("simswap_unofficial_512"),
		License: licenseSimSwap,
		Note: "An unofficial 512 px SimSwap as re-hosted by FaceFusion (models-3.0.0): arcface_112_v1 at 512 px, input x/255 " +
			"(mean 0, std 1), source as simswap_256, output in [0,1]. Needs crossface_simswap. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "crossface_ghost",
		Role:    RoleConverter,
		File:    "crossface_ghost.onnx",
		Sources: ffSourcesAt("models-3.4.0", "crossface_ghost"),
		License: licenseCrossface,
		Note: "FaceFusion's embedding converter for the ghost swappers (models-3.4.0): input 'input' [1,512] ArcFace embedding, " +
			"output [1,512]. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "crossface_simswap",
		Role:    RoleConverter,
		File:    "crossface_simswap.onnx",
		Sources: ffSourcesAt("models-3.4.0", "crossface_simswap"),
		License: licenseCrossface,
		Note: "FaceFusion's embedding converter for the SimSwap swappers (models-3.4.0): input 'input' [1,512], output [1,512]. " +
			"Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "gfpgan_1.2",
		Role:    RoleEnhancer,
		File:    "gfpgan_1.2.onnx",
		Sources: ffSources("gfpgan_1.2"),
		License: "Apache-2.0 (FaceFusion label)",
		Note:    "FaceFusion's GFPGAN 1.2 (TencentARC, models-3.0.0), as gfpgan_1.4: ffhq_512 at 512 px. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "gfpgan_1.3",
		Role:    RoleEnhancer,
		File:    "gfpgan_1.3.onnx",
		Sources: ffSources("gfpgan_1.3"),
		License: "Apache-2.0 (FaceFusion label)",
		Note:    "FaceFusion's GFPGAN 1.3 (TencentARC, models-3.0.0), as gfpgan_1.4. Size unknown; checksum: CRC32 sidecar (FF's gfpgan_1.3.hash is 9d118283).",
	},
	{
		Name:    "gfpgan_1.4",
		Role:    RoleEnhancer,
		File:    "gfpgan_1.4.onnx",
		Sources: ffSources("gfpgan_1.4"),
		License: "Apache-2.0 (FaceFusion label)",
		Note: "FaceFusion's GFPGAN 1.4 (models-3.0.0): input 'input' 1x3x512x512 RGB in [-1,1], ffhq_512 template. " +
			"About 340 MB; checksum: CRC32 sidecar. Enable with SWAPD_ENHANCER_MODELS=gfpgan_1.4=gfpgan_1.4.onnx.",
	},
	{
		Name:    "codeformer",
		Role:    RoleEnhancer,
		File:    "codeformer.onnx",
		Sources: ffSources("codeformer"),
		License: "S-Lab-1.0: non-commercial (FaceFusion label)",
		Note:    "FaceFusion's CodeFormer (models-3.0.0): as GFPGAN plus a float64 'weight' [1]. About 377 MB; checksum: CRC32 sidecar (FF's codeformer.hash is 1456f3ab).",
	},
	{
		Name:    "gpen_bfr_256",
		Role:    RoleEnhancer,
		File:    "gpen_bfr_256.onnx",
		Sources: ffSources("gpen_bfr_256"),
		Size:    75_792_988,
		License: "Non-Commercial (FaceFusion label)",
		Note:    "FaceFusion's GPEN-BFR 256 (models-3.0.0), arcface_128 template at 256 px. Size from a third-party listing; checksum: CRC32 sidecar.",
	},
	{
		Name:    "gpen_bfr_512",
		Role:    RoleEnhancer,
		File:    "gpen_bfr_512.onnx",
		Sources: ffSources("gpen_bfr_512"),
		Size:    284_340_240,
		License: "Non-Commercial (FaceFusion label)",
		Note:    "FaceFusion's GPEN-BFR 512 (models-3.0.0), ffhq_512 template. Size from a third-party listing; checksum: CRC32 sidecar.",
	},
	{
		Name:    "gpen_bfr_1024",
		Role:    RoleEnhancer,
		File:    "gpen_bfr_1024.onnx",
		Sources: ffSources("gpen_bfr_1024"),
		License: "Non-Commercial (FaceFusion label)",
		Note:    "FaceFusion's GPEN-BFR 1024 (yangxy, models-3.0.0), ffhq_512 template at 1024 px. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "gpen_bfr_2048",
		Role:    RoleEnhancer,
		File:    "gpen_bfr_2048.onnx",
		Sources: ffSources("gpen_bfr_2048"),
		License: "Non-Commercial (FaceFusion label)",
		Note:    "FaceFusion's GPEN-BFR 2048 (yangxy, models-3.0.0), ffhq_512 template at 2048 px. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "restoreformer_plus_plus",
		Role:    RoleEnhancer,
		File:    "restoreformer_plus_plus.onnx",
		Sources: ffSources("restoreformer_plus_plus"),
		License: "Apache-2.0 (FaceFusion label)",
		Note:    "FaceFusion's RestoreFormer++ (wzhouxiff, models-3.0.0), ffhq_512 at 512 px, input and output as GFPGAN. Size unknown; checksum: CRC32 sidecar.",
	},
	{
		Name:    "xseg_1",
		Role:    RoleOccluder,
		File:    "xseg_1.onnx",
		Sources: ffSourcesAt("models-3.1.0", "xseg_1"),
		Size:    70_324_286,
		License: licenseXSeg,
		Note: "FaceFusion's default occluder (vendor DeepFaceLab, models-3.1.0; FF facefusion/face_masker.py): input 'input' " +
			"1x256x256x3 NHWC BGR in [0,1], output [0][0] a 256x256x1 face mask. Size from a third-party listing of FF's " +
			"files; checksum: CRC32 sidecar. Enable with SWAPD_OCCLUDER_MODELS=xseg_1=xseg_1.onnx.",
	},
	{
		Name:    "xseg_2",
		Role:    RoleOccluder,
		File:    "xseg_2.onnx",
		Sources: ffSourcesAt("models-3.1.0", "xseg_2"),
		Size:    70_324_286,
		License: licenseXSeg,
		Note:    "FaceFusion's XSeg occluder 2 (DeepFaceLab, models-3.1.0), signature as xseg_1. Size from a third-party listing; checksum: CRC32 sidecar.",
	},
	{
		Name:    "xseg_3",
		Role:    RoleOccluder,
		File:    "xseg_3.onnx",
		Sources: ffSourcesAt("models-3.2.0", "xseg_3"),
		Size:    70_327_709,
		License: licenseXSeg,
		Note:    "FaceFusion's XSeg occluder 3 (DeepFaceLab, models-3.2.0), signature as xseg_1. Size from a third-party listing; checksum: CRC32 sidecar.",
	},
	{
		Name:    "bisenet_resnet_18",
		Role:    RoleParser,
		File:    "bisenet_resnet_18.onnx",
		Sources: ffSourcesAt("models-3.1.0", "bisenet_resnet_18"),
		License: "MIT (FaceFusion label; vendor yakhyo)",
		Note: "FaceFusion's lighter face parser (yakhyo/face-parsing BiSeNet, ResNet-18 backbone, models-3.1.0): input 'input' " +
			"Nx3x512x512 RGB with ImageNet mean/std, output 0 Nx19x512x512 class logits (CelebAMask-HQ classes). " +
			"Size unknown (about 51 MB); checksum: CRC32 sidecar.",
	},
	{
		Name:    "bisenet_resnet_34",
		Role:    RoleParser,
		File:    "bisenet_resnet_34.onnx",
		Sources: ffSourcesAt("models-3.0.0", "bisenet_resnet_34"),
		Size:    93_632_546,
		License: "MIT (FaceFusion label; vendor yakhyo)",
		Note: "FaceFusion's default face parser (yakhyo BiSeNet, ResNet-34 backbone, models-3.0.0), signature as bisenet_resnet_18. " +
			"Size from a third-party listing; checksum: CRC32 sidecar. Enable with SWAPD_PARSER_MODELS=bisenet_resnet_34=bisenet_resnet_34.onnx.",
	},
	{
		Name:    "2dfan4",
		Role:    RoleLandmarker,
		File:    "2dfan4.onnx",
		Sources: ffSources("2dfan4"),
		Size:    97_904_803,
		License: "MIT (FaceFusion label; vendor breadbread1984)",
		Note: "FaceFusion's default 68-point landmarker (models-3.0.0; FF facefusion/face_landmarker.py): input 'input' 1x3x256x256 " +
			"BGR in [0,1] (the face box scaled to 195 px), outputs [1,68,3] coordinates on a 64 grid and [1,68,64,64] heatmaps. " +
			"Size from a third-party listing; checksum: CRC32 sidecar (FF's 2dfan4.hash is a948738e). Used for area masks.",
	},
	{
		Name:    "fan_68_5",
		Role:    RoleLandmarker,
		File:    "fan_68_5.onnx",
		Sources: ffSources("fan_68_5"),
		Size:    944_321,
		License: "OpenRAIL-M (FaceFusion label; a FaceFusion model)",
		Note: "FaceFusion's 5-to-68 landmark estimator (models-3.0.0): input 'input' [1,5,2] (the five landmarks in unit ffhq_512 " +
			"space), output [1,68,2]. Size from a third-party listing; checksum: CRC32 sidecar. Area masks use it when 2dfan4 " +
			"is not configured.",
	},
}

// Catalogue returns all known models.
func Catalogue() []Entry {
	out := make([]Entry, len(catalogue))
	for i, e := range catalogue {
		e.Sources = append([]Source(nil), e.Sources...)
		out[i] = e
	}
	return out
}

// Lookup returns the entry named name.
func Lookup(name string) (Entry, bool) {
	for _, e := range Catalogue() {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Defaults returns the default model of each role.
func Defaults() []Entry {
	var out []Entry
	for _, e := range Catalogue() {
		if e.Default {
			out = append(out, e)
		}
	}
	return out
}

// Validate checks that the entry can be downloaded and verified.
func (e Entry) Validate() error {
	if e.Name == "" || e.File == "" {
		return fmt.Errorf("models: entry %q: name and file are required", e.Name)
	}
	if strings.ContainsAny(e.File, `/\`) || e.File == "." || e.File == ".." {
		return fmt.Errorf("models: entry %q: file %q must be a plain file name", e.Name, e.File)
	}
	if len(e.Sources) == 0 {
		return fmt.Errorf("models: entry %q: no sources", e.Name)
	}
	if e.SHA256 != "" {
		if len(e.SHA256) != 64 || strings.Trim(e.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("models: entry %q: SHA256 %q is not 64 lowercase hex digits", e.Name, e.SHA256)
		}
		return nil
	}
	for _, s := range e.Sources {
		if s.HashURL == "" {
			return fmt.Errorf("models: entry %q: source %s has no checksum (no SHA256 and no HashURL)", e.Name, s.URL)
		}
	}
	return nil
}
