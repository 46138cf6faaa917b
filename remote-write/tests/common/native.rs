//! The native histogram the receiver tests push: one fixture, so every test means the same
//! observations when it asserts a count. testkit-prometheus's receiver tests include this file
//! too (`#[path]`), so it depends on `redline_remote_write` alone.

use redline_remote_write::prompb::{BucketSpan, Histogram, histogram};

/// Observations 0.1, 0.2 and 0.4 at schema 0, `n` times over. Buckets are powers of two
/// (index i covers (2^(i-1), 2^i]), so they land in -3, -2 and -1.
pub fn three_observations(timestamp: i64, n: u64) -> Histogram {
    Histogram {
        count: Some(histogram::Count::CountInt(3 * n)),
        sum: 0.7 * n as f64,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: Some(histogram::ZeroCount::ZeroCountInt(0)),
        positive_spans: vec![BucketSpan {
            offset: -3,
            length: 3,
        }],
        positive_deltas: vec![n as i64, 0, 0],
        timestamp,
        ..Default::default()
    }
}
