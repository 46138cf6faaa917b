//! Series written by `redline tokens create`: how long the API server took to create each
//! labelled ServiceAccount (the MaaS plan's "SA creation time" column, which it records
//! against the number of active tokens), the tokens issued and when they expire.
//!
//! The entries live in `metrics/tokens.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/tokens.rs"));
