//go:build tools

// Package tools pins the KWOK command that the dev cluster builds.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
