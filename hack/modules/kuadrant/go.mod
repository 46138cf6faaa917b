// Pins the Kuadrant operator's published module for its CRDs (config/crd/bases/*.yaml):
// `redline tokens limits` is tested against RateLimitPolicy's published schema on the
// local control plane. Nothing is built from it; hack/kuadrant-crds.sh only reads the
// module's files. v1.2.0 is the newest release the module proxy serves here; it predates
// TokenRateLimitPolicy (added in v1.3), see hack/kuadrant-crds.sh for what stands in.
module redline.local/hack/modules/kuadrant

go 1.26.0

require github.com/kuadrant/kuadrant-operator v1.2.0
