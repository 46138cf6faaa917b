//! Series written by `redline churn`: scale events over Services/Deployments (stable and
//! oscillate patterns), the replica counts asked for and seen, and the Kubernetes API
//! calls it made to get there.
//!
//! The entries live in `metrics/churn.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/churn.rs"));
