//! Kubernetes' defaulting functions (`pkg/apis/*/v1/defaults.go`), applied to a rendered object as
//! the API server applies them before admission and validation.
