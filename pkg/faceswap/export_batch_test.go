package faceswap

// DetectorRuns is how many Run calls p's detector session has completed, for the
// batched-detection test.
func DetectorRuns(p *Pipeline) int64 {
	runs, _ := p.det.sess.RunStats()
	return runs
}

// DetectorBatched is p's Detector.Batched, for tests.
func DetectorBatched(p *Pipeline) bool { return p.det.Batched() }
