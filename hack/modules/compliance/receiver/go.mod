// Pins the receiver suite of the Prometheus remote-write compliance tests
// (github.com/prometheus/compliance, remotewrite/receiver at 67b8327, 2026-08-06) for
// hack/compliance.sh. Its go.mod declares the misspelled module path
// github.com/prometheus/complicance/remotewrite2, so it is required under that name and
// replaced by the path the Go module proxy serves it at. Nothing imports it: the test
// binary is built with `go test -c github.com/prometheus/complicance/remotewrite2`, and
// go.sum holds its test dependencies (go get -t); `go mod tidy` would drop them.
module redline.local/hack/modules/compliance/receiver

go 1.26.7

require github.com/prometheus/complicance/remotewrite2 v0.0.0-20260806071727-67b8327a2e93

replace github.com/prometheus/complicance/remotewrite2 => github.com/prometheus/compliance/remotewrite/receiver v0.0.0-20260806071727-67b8327a2e93
