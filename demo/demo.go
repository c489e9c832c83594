// Package demo holds ramen's built-in sample logs: a small AWSLogs/ tree, in the layouts and formats
// AWS delivers, of every log type ramen reads. `ramen demo` runs the pipeline over it, so that a
// newcomer sees ramen work with no AWS account and no configuration.
package demo

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed all:data
var data embed.FS

// Files returns the sample tree, rooted at its top directory (AWSLogs/ and the others).
func Files() fs.FS {
	sub, err := fs.Sub(data, "data")
	if err != nil {
		panic(err) // the embedded tree always has data/
	}
	return sub
}

// Write copies the sample tree into dir (created if needed) and returns the paths written, in order.
// Existing files are overwritten, so the samples can be restored after a user edits them.
func Write(dir string) ([]string, error) {
	var written []string
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		written = append(written, dst)
		return nil
	})
	return written, err
}
