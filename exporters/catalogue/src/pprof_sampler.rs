//! Series written by `redline pprof-sampler`: Go heap profiles of the sampled pods
//! (Knative's activator by default) and their containers' CPU and memory as
//! `kubectl top pod --containers` shows them (from `metrics.k8s.io`).
//!
//! `pod` is the pod name for discovered targets and `host:port` for a static `--target`;
//! `container` is the container that serves the profiling port ("" when unknown).
//!
//! The entries live in `metrics/pprof_sampler.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/pprof_sampler.rs"));
