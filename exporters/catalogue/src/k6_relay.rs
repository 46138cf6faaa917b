//! Self-metrics of `redline k6-relay`: what k6 (or any remote-write 1.0 sender) handed the
//! relay, what it forwarded into the remote-write queue, what it spilled to disk and what it
//! could not keep. The relayed series themselves keep their own names (`k6_*`); samples the
//! queue later gives up on are counted by `redline_remote_write_samples_dropped_total`.
//!
//! The entries live in `metrics/k6_relay.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/k6_relay.rs"));
