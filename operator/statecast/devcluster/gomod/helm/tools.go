//go:build tools

// Package tools pins the Helm command that renders and lints the chart.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
