package jobs

import (
	"strings"
	"testing"
)

// TestObjectKeys: every object of a job lies under its prefix (so deleting the prefix
// deletes the job's files), and the output key follows the format.
func TestObjectKeys(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{OutputKey("j", "png"), "jobs/j/output.png"},
		{OutputKey("j", "jpeg"), "jobs/j/output.jpg"},
		{OutputKey("j", ""), "jobs/j/output.jpg"},
		{OutputKey("j", "mp4"), "jobs/j/output.mp4"},
		{InputKey("j", "source-0"), "jobs/j/source-0"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
		if !strings.HasPrefix(c.got, ObjectPrefix("j")) {
			t.Errorf("%q is not under the job's prefix", c.got)
		}
	}
	if !strings.HasPrefix(OutputKey("j", "png"), OutputPrefix("j")) || strings.HasPrefix(InputKey("j", "target"), OutputPrefix("j")) {
		t.Error("output prefix")
	}
}
