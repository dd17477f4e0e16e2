//go:build tools

// Package tools pins the Toxiproxy server that the fault-injection harness builds.
package tools

import (
	_ "github.com/Shopify/toxiproxy/v2/cmd/server"
)
