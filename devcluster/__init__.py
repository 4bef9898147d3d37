"""devcluster: a real Kubernetes control plane as local processes, for the demo and tests."""
