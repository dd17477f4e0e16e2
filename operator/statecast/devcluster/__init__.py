"""A real local Kubernetes control plane (etcd, kube-apiserver, controllers, KWOK nodes)."""
