package faceswap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// Analyze jobs and mapped swaps (issue #10). An analysis lists the people of an
// image or a video; a mapped swap gives each chosen person a source of their
// own. The pieces: tracking (track.go), landmark smoothing (smooth.go),
// hold-over (videotrack.go, appearance.go), clustering tracks into identities
// (cluster.go), mapping decisions (mapping.go), blurring (blur.go) and
// thumbnails (thumb.go). The service layer (pkg/jobs, tasks, pkg/api) is
// written against the types and signatures of this file.

// AnalyzedFace is one face of an analysed image.
type AnalyzedFace struct {
	Index     int       // left to right, 0-based (the numbering TargetIndexes uses)
	Face      Face      // box, score, 5 landmarks in frame pixels
	Embedding Embedding // L2-normalised identity
	Identity  int       // index into ImageAnalysis.Identities
	Thumb     media.Frame
}

// ImageAnalysis is the result of AnalyzeImage: every face left to right. In one
// image every face is its own identity (two faces of one picture are two people),
// so Identities[i] is built from Faces[i].
type ImageAnalysis struct {
	Faces      []AnalyzedFace
	Identities []Identity
}

// Identity is one person found by an analysis.
type Identity struct {
	ID                    int       // 0-based, ordered by first appearance, then left to right
	FirstFrame, LastFrame int       // frame numbers in the video (0 for an image)
	Frames                int       // analysed frames in which the identity was seen
	Tracks                int       // how many tracks were joined into it
	Embedding             Embedding // mean of its faces' embeddings, L2-normalised
	Best                  Face      // its best face (score × size), in BestFrame
	BestFrame             int
	Thumb                 media.Frame // a small RGB crop around Best (ThumbSize on its long side)
}

// ThumbSize is the long side, in pixels, of an identity's or face's thumbnail.
const ThumbSize = 128

// VideoAnalysis is the result of AnalyzeVideo.
type VideoAnalysis struct {
	Frames         int // frames read
	FramesAnalysed int // frames detected on (every Stride-th)
	Stride         int
	Identities     []Identity
	Stats          VideoStats
}

// AnalyzeImage detects every face of frame, left to right, and embeds each. An
// image without faces gives an empty analysis, not an error: "nobody" is an
// answer to "who is in this picture".
func (p *Pipeline) AnalyzeImage(ctx context.Context, frame media.Frame, opts Options) (ImageAnalysis, Stats, error) {
	var st Stats
	opts, err := p.checkEmbed(opts)
	if err != nil {
		return ImageAnalysis{}, st, err
	}
	if err := checkFrame(frame); err != nil {
		return ImageAnalysis{}, st, err
	}
	if err := ctx.Err(); err != nil {
		return ImageAnalysis{}, st, err
	}
	t := time.Now()
	faces, err := p.det.Detect(frame, opts.DetectorSize, opts.DetectorScore)
	st.Detect = time.Since(t)
	if err != nil {
		return ImageAnalysis{}, st, err
	}
	st.TargetFaces = len(faces)
	SortFaces(faces, OrderLeftRight)
	if err := ctx.Err(); err != nil {
		return ImageAnalysis{}, st, err
	}
	embs, d, err := p.embedAll(frame, faces)
	st.Embed = d
	if err != nil {
		return ImageAnalysis{}, st, err
	}
	var a ImageAnalysis
	for i, f := range faces {
		thumb := Thumbnail(frame, f)
		a.Faces = append(a.Faces, AnalyzedFace{Index: i, Face: f, Embedding: embs[i], Identity: i, Thumb: thumb})
		a.Identities = append(a.Identities, Identity{
			ID: i, Frames: 1, Tracks: 1, Embedding: embs[i], Best: f, Thumb: thumb,
		})
	}
	return a, st, nil
}

// AnalyzeVideo detects faces on every stride-th frame (stride ≤ 1: every frame),
// tracks them and clusters the tracks into identities. progress, if not nil, gets
// the number of frames read so far.
//
// Frames are read, detected and embedded one after another: an analysis is one
// pass of the detector and recognizer, without the swap's stages to overlap.
// Tracking runs on the analysed frames (opts.TrackHold of them may be missed
// inside one track); identities are the tracks clustered by embedding, with
// the rule that two tracks seen in one frame are two people (cluster.go). It
// needs the recognizer. Stats has Frames, FramesWithFaces (analysed frames with
// a face), Detect, Embed and Read.
func (p *Pipeline) AnalyzeVideo(ctx context.Context, r FrameReader, opts Options, stride int, progress func(done int)) (VideoAnalysis, error) {
	opts, err := p.checkEmbed(opts)
	if err != nil {
		return VideoAnalysis{}, err
	}
	if r == nil {
		return VideoAnalysis{}, errors.New("faceswap: AnalyzeVideo needs a reader")
	}
	stride = max(stride, 1)
	a := VideoAnalysis{Stride: stride}
	tr := tracker{hold: opts.trackHold(), keepEnded: true}
	var frame media.Frame
	w, h := 0, 0
	for seq := 0; ; seq++ {
		if err := ctx.Err(); err != nil {
			return a, err
		}
		t := time.Now()
		err := r.Next(&frame)
		a.Stats.Read += time.Since(t)
		if err == io.EOF {
			break
		}
		if err == nil {
			err = checkFrame(frame)
		}
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return a, fmt.Errorf("faceswap: read frame %d: %w", seq, err)
		}
		a.Frames++
		if seq%stride == 0 {
			if w != 0 && (frame.Width != w || frame.Height != h) {
				tr.reset()
			}
			w, h = frame.Width, frame.Height
			if err := p.analyseFrame(frame, seq, opts, &tr, &a.Stats); err != nil {
				return a, fmt.Errorf("faceswap: frame %d: %w", seq, err)
			}
			a.FramesAnalysed++
		}
		a.Stats.Frames = a.Frames
		if progress != nil {
			progress(a.Frames)
		}
	}
	minFrames := min(clusterMinFrames, max(a.FramesAnalysed, 1))
	a.Identities = identities(clusterTracks(tr.finish(), minFrames))
	return a, nil
}

// analyseFrame detects and embeds frame's faces and adds them to their tracks,
// keeping each track's best face and its thumbnail.
func (p *Pipeline) analyseFrame(frame media.Frame, seq int, opts Options, tr *tracker, st *VideoStats) error {
	t := time.Now()
	faces, err := p.det.Detect(frame, opts.DetectorSize, opts.DetectorScore)
	st.Detect += time.Since(t)
	if err != nil {
		return err
	}
	faces = p.afterDetect(seq, faces)
	SortFaces(faces, OrderLeftRight)
	embs, d, err := p.embedAll(frame, faces)
	st.Embed += d
	if err != nil {
		return err
	}
	if len(faces) > 0 {
		st.FramesWithFaces++
	}
	for _, m := range tr.update(seq, faces, embs) {
		f := faces[m.face]
		if q := faceQuality(f); q > m.track.bestQuality {
			m.track.best, m.track.bestFrame, m.track.bestQuality = f, seq, q
			m.track.thumb = Thumbnail(frame, f)
		}
	}
	return nil
}

// faceQuality ranks a track's faces for its thumbnail: detector score × box
// area, so a large, clearly seen face wins over a small or doubtful one.
func faceQuality(f Face) float64 { return float64(f.Score) * float64(f.Area()) }

// identities turns clusters into Identities, ordered by first appearance, then
// left to right.
func identities(cs []*cluster) []Identity {
	type ranked struct {
		id   Identity
		left float32
	}
	var rs []ranked
	for _, c := range cs {
		var id Identity
		var left float32
		var sum []float32
		first := true
		for _, t := range c.tracks {
			if first || t.first < id.FirstFrame {
				id.FirstFrame, left = t.first, t.firstFace.Box[0]
			}
			if first || t.last > id.LastFrame {
				id.LastFrame = t.last
			}
			if first || t.bestQuality > faceQuality(id.Best) {
				id.Best, id.BestFrame, id.Thumb = t.best, t.bestFrame, t.thumb
			}
			first = false
		}
		for _, x := range c.sum {
			sum = append(sum, float32(x))
		}
		id.Embedding, _ = normalize(sum)
		id.Frames, id.Tracks = len(c.frames), len(c.tracks)
		rs = append(rs, ranked{id, left})
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].id.FirstFrame != rs[j].id.FirstFrame {
			return rs[i].id.FirstFrame < rs[j].id.FirstFrame
		}
		return rs[i].left < rs[j].left
	})
	out := make([]Identity, len(rs))
	for i, r := range rs {
		out[i] = r.id
		out[i].ID = i
	}
	return out
}

// Mapping asks for the person whose identity is Reference (an analysis identity's
// mean embedding, or the embedding of a reference image's face) to get the
// identity Source (the sources' averaged embedding).
type Mapping struct {
	Reference Embedding
	Source    Embedding
}

// Unmapped values: what happens to faces no mapping picks.
const (
	UnmappedKeep = "keep" // left unchanged (the default)
	UnmappedBlur = "blur" // blurred beyond recognition
)

// SwapMapped swaps each mapped person in target with its own source; faces that
// match no mapping are kept or blurred (unmapped: "" or UnmappedKeep keeps
// them). A face matches the mapping whose Reference is nearest within
// opts.ReferenceDistance; each mapping takes at most one face of a frame, the
// nearest. The selection fields of opts are ignored; masks and enhancer apply
// to the swapped faces. It fails with ErrNoFaceInTarget when target has no face,
// and with ErrNoFaceSelected when no face matches a mapping and unmapped faces
// are kept (there would be nothing to do).
func (p *Pipeline) SwapMapped(ctx context.Context, target media.Frame, maps []Mapping, unmapped string, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	m, err := p.newMappedRun(maps, unmapped, opts)
	if err != nil {
		return media.Frame{}, st, err
	}
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	SortFaces(faces, OrderLeftRight)
	embs, d, err := p.embedAll(target, faces)
	st.Embed += d
	if err != nil {
		return media.Frame{}, st, err
	}
	g := &videoFrame{faces: faces}
	m.apply(g, m.assign(embs, nil))
	if len(g.items) == 0 && len(g.blur) == 0 {
		return media.Frame{}, st, ErrNoFaceSelected
	}
	out := target.Clone()
	for _, f := range g.blur {
		t := time.Now()
		BlurFace(out, f)
		st.Paste += time.Since(t)
	}
	if err := p.process(ctx, out, g.items, opts, &st); err != nil {
		return media.Frame{}, st, err
	}
	return out, st, nil
}

// SwapVideoMapped is SwapVideo with mappings: each tracked face gets the source of
// the mapping its track matches; unmapped faces are kept or blurred.
//
// Every face of every frame is detected and embedded; the tracking stage
// (videotrack.go) decides a face's mapping from its track's running mean
// embedding, not from the face's own (one small face's embedding is too noisy
// to tell people apart: cluster.go), and waits for a new track's first
// embeddings before deciding. Each mapping goes to at most one face of a frame.
// Smoothing and hold-over apply as in SwapVideo. Selection fields of opts are
// ignored.
func (p *Pipeline) SwapVideoMapped(ctx context.Context, r FrameReader, w FrameWriter, maps []Mapping, unmapped string, opts Options, progress func(done int)) (VideoStats, error) {
	if err := opts.Validate(); err != nil {
		return VideoStats{}, err
	}
	opts = opts.WithDefaults()
	opts.FaceSelector, opts.TargetIndexes, opts.SourceIndexes, opts.Reference = SelectMany, nil, nil, nil
	if err := p.checkVideo(r, w, opts); err != nil {
		return VideoStats{}, err
	}
	m, err := p.newMappedRun(maps, unmapped, opts)
	if err != nil {
		return VideoStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return VideoStats{}, err
	}
	v := p.newVideoRun(ctx, opts, nil, nil)
	v.maps = m
	defer v.cancel()
	return v.runStages(ctx, r, w, progress)
}
