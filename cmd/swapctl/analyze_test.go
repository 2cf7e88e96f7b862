package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
)

func TestAnalyzePrintsTheAnalysis(t *testing.T) {
	code, stdout, stderr, err := swapctl(t, "analyze", "-target", fixture("faces/group_test3.jpg"))
	if code != exitOK || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	var j jobs.Job
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("stdout is not the job: %v\n%s", err, stdout)
	}
	a := j.Output.Analysis
	if j.Kind != jobs.KindAnalyze || a == nil || len(a.Faces) != 3 || a.Faces[0].Thumbnail.URL == "" || j.Target.Key == "" {
		t.Fatalf("job %+v", j)
	}
	if !strings.Contains(stderr, "3 faces, 3 identities") {
		t.Errorf("stderr: %s", stderr)
	}
	if code, _, _, _ := swapctl(t, "analyze"); code != exitUsage {
		t.Errorf("analyze without -target: exit %d", code)
	}
}
