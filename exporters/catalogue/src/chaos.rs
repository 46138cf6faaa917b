//! Series written by `redline chaos`: injected faults, probes that watch the service
//! while they are active, and the recovery clocks. (The small-VPS budget check is
//! `redline fit`'s, in [`crate::fit`].)
//!
//! `fault` values the shipped thresholds in `alerts/thresholds.yml` know: `pod-kill`,
//! `db-failover`, `cache-failover`, `node-drain`, `network-partition`.
//!
//! The entries live in `metrics/chaos.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/chaos.rs"));
