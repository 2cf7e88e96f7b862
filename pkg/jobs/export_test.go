package jobs

// SetListScanMax lowers List's per-request read bound for a test; the returned
// function restores it.
func SetListScanMax(n int) (restore func()) {
	old := listScanMax
	listScanMax = n
	return func() { listScanMax = old }
}
