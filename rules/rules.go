// Package rules holds ramen's own detection rules, written by the ramen authors and embedded in the
// binary: Sigma rules (and Sigma correlation rules) under builtin/, each file with its tests beside it.
package rules

import (
	"embed"
	"io/fs"
)

//go:embed builtin
var builtin embed.FS

// Builtin returns the built-in rule tree. Rule files end in .yml; a rule file's tests are in the file
// of the same name ending in _test.yml (see builtin/README.md).
func Builtin() fs.FS {
	sub, err := fs.Sub(builtin, "builtin")
	if err != nil {
		panic(err) // builtin/ is always embedded
	}
	return sub
}
