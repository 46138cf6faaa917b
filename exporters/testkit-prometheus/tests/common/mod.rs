//! What the receiver tests share: starting each receiver (or skipping loudly where it is not
//! installed) and the remote-write 1.0 client pointed at it.

#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use redline_remote_write::{Config, now_millis};
use redline_testkit_prometheus::{Builder, Prometheus, Receiver};

pub const ALL: [Receiver; 3] = [
    Receiver::Prometheus2,
    Receiver::Prometheus3,
    Receiver::VictoriaMetrics,
];

/// Starts `builder`, or `None` after the harness's SKIPPED banner when the program is missing
/// (an error under CI=true).
pub async fn start(builder: Builder) -> Option<Prometheus> {
    builder
        .start_or_skip()
        .await
        .unwrap_or_else(|e| panic!("start the receiver: {e}"))
}

/// The client as the daemons use it, with short deadlines so a test does not wait on batching.
pub fn client_config(p: &Prometheus) -> Config {
    Config {
        batch_send_deadline: Duration::from_millis(50),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(500),
        ..Config::new(p.write_url())
    }
}

/// A whole second a minute ago: timestamps the query API prints exactly, and old enough that a
/// stock VictoriaMetrics shows them (it hides the last 30 s, `-search.latencyOffset`).
pub fn minute_ago_whole_second_ms() -> i64 {
    (now_millis() / 1000 - 60) * 1000
}

pub fn now_s() -> f64 {
    now_millis() as f64 / 1000.0
}
