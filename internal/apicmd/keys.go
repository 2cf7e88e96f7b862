package apicmd

import (
	"fmt"
	"io"

	"github.com/swapd/swapd/pkg/apikeys"
)

// loadKeyring reads the keys the API accepts: the keys file when one is given, else
// the tenant and admin lists with defaults as each tenant's limits. A local run with
// no keys at all gets one of each, generated and printed, so the dashboard is never
// open to a tenant key.
func loadKeyring(file string, tenants, admins []string, defaults apikeys.Limits, stdout io.Writer) (*apikeys.Keyring, error) {
	if file != "" {
		ring, err := apikeys.Load(file)
		if err != nil {
			return nil, fmt.Errorf("SWAPD_KEYS_FILE: %w", err)
		}
		return ring, nil
	}
	if len(tenants) == 0 {
		k := generateKey()
		tenants = []string{k}
		fmt.Fprintf(stdout, "No SWAPD_API_KEYS set; generated an API key for this run:\n  SWAPD_API_KEY=%s\n", k)
	}
	if len(admins) == 0 {
		k := generateKey()
		admins = []string{k}
		fmt.Fprintf(stdout, "No SWAPD_ADMIN_KEYS set; generated an operator key for the dashboard and /metrics:\n  SWAPD_ADMIN_KEY=%s\n", k)
	}
	ring, err := apikeys.FromLists(tenants, admins, defaults)
	if err != nil {
		return nil, fmt.Errorf("SWAPD_API_KEYS / SWAPD_ADMIN_KEYS: %w; give operators their own keys", err)
	}
	return ring, nil
}
