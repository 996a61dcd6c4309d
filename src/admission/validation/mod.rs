//! Kubernetes' built-in validation (`pkg/apis/*/validation` in kubernetes/kubernetes), ported:
//! the checks the API server runs on every object after defaulting, beyond the OpenAPI schema.
