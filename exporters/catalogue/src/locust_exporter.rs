//! Series written by `redline locust-exporter` from a Locust master's `/stats/requests`,
//! so Locust runs are judged by the same recording rules and alerts as redline's own.
//! Every `locust_*` family also carries `scenario` (a flag) and `step` (the user count the
//! requests were made at). Response times are Locust's own figures, which it rounds to about
//! two significant digits (147 ms becomes 150 ms) and keeps since the start of the test.
//!
//! The entries live in `metrics/locust_exporter.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/locust_exporter.rs"));
