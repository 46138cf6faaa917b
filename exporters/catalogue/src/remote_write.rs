//! Self-metrics of the remote-write client, written by every daemon. Besides the labels
//! below each carries `daemon` (the subcommand), added by the runtime: the daemons of one
//! run share its testid, and without it they would write the same series.
//!
//! The entries live in `metrics/remote_write.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/remote_write.rs"));
