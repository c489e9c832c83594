//go:build !linux

package lake

// exchange is not available here: swapDirs falls back to two renames.
func exchange(a, b string) error { return errExchangeUnsupported }
