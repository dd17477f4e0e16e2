"""The operator: kopf handlers, the Kubernetes gateway, metrics sources, history store."""
