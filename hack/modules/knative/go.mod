// Pins Knative Serving's published module for its CRDs (config/core/300-resources/*.yaml):
// the chart's KServices are validated against them on the local control plane. Nothing is
// built from it; hack/knative-crds.sh only reads the module's files.
module redline.local/hack/modules/knative

go 1.26.0

require knative.dev/serving v0.42.2
