package config

import (
	"io"
	"testing"
)

// SWAPD_REQUIRE_ENCRYPTION reaches storage.Config, and fails closed: only an empty or a
// false value leaves encryption optional.
func TestRequireEncryptionSetting(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "0": false, "false": false, "FALSE": false,
		"1": true, "true": true, " 1 ": true, "yes": true, "on": true,
	} {
		env := map[string]string{"SWAPD_REQUIRE_ENCRYPTION": v}
		s := New("t", func(k string) string { return env[k] }, io.Discard)
		c := DeclareCommon(s)
		if err := s.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if got := c.Storage().RequireEncryption; got != want {
			t.Errorf("SWAPD_REQUIRE_ENCRYPTION=%q: RequireEncryption %v, want %v", v, got, want)
		}
	}
}
