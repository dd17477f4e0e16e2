// Holds the version of Prometheus Operator whose CRDs (ServiceMonitor) the chart's
// optional ServiceMonitors are dry-run against in the integration tests; nothing is
// built from it (see ../../build.py, module_dir).
module statecast.io/devcluster/prometheus-operator

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
