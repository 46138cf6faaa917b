//! `cargo bench -p redline-remote-write`: for remote-write 1.0 and 2.0 on the same load,
//! samples/s encoded + compressed on one core and bytes on the wire per sample; then
//! end-to-end samples/s into a real local Prometheus.
//!
//! A plain timing loop, not criterion: the figure wanted is one throughput number
//! per path, printed in the same run as the end-to-end one.

use std::hint::black_box;
use std::time::{Duration, Instant};

use redline_remote_write::prompb::Sample;
use redline_remote_write::{
    Config, Entry, Metadata, MetricKind, RemoteWriter, Series, compress, encode_write_request,
    encode_write_request_v2, now_millis,
};

/// Label sets shaped like http-load's per-request series.
fn series(n: usize) -> Vec<Series> {
    (0..n)
        .map(|i| {
            Series::new(
                "k6_http_reqs_total",
                [
                    ("testid", "bench-run-1".to_string()),
                    ("instance", format!("vu-{i}")),
                    ("scenario", format!("scenario-{}", i % 4)),
                    ("step", format!("{}", i % 5)),
                    ("name", format!("endpoint-{}", i % 50)),
                    ("method", "POST".into()),
                    ("status", format!("{}", 200 + i % 3)),
                    ("expected_response", "true".into()),
                    ("tier", ["free", "premium", "enterprise"][i % 3].into()),
                ],
            )
            .unwrap()
            // As the daemons send them: 2.0 carries this once per series and request.
            .with_metadata(Metadata::new(
                MetricKind::Counter,
                "The total number of HTTP requests k6 generated.",
            ))
        })
        .collect()
}

type Encoder = fn(&[Entry<'_>], &mut Vec<u8>);

/// Encodes + compresses one 2,000-sample request (one sample per series, the shape of a
/// push interval) for 3 s; returns samples/s.
fn encode_per_core(protocol: &str, encode: Encoder) -> f64 {
    let all = series(2_000);
    let t0 = now_millis();
    let samples: Vec<[Sample; 1]> = (0..all.len())
        .map(|i| {
            [Sample {
                value: i as f64 * 1.5,
                timestamp: t0 + i as i64,
            }]
        })
        .collect();
    let entries: Vec<Entry<'_>> = all
        .iter()
        .zip(&samples)
        .map(|(s, v)| Entry {
            series: s,
            samples: v,
            histograms: &[],
            exemplars: &[],
        })
        .collect();
    let mut raw = Vec::new();
    let mut out = Vec::new();
    let mut enc = snap::raw::Encoder::new();
    let mut n = 0u64;
    let mut bytes = 0usize;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        raw.clear();
        encode(black_box(&entries), &mut raw);
        compress(&raw, &mut enc, &mut out);
        bytes = out.len();
        n += entries.len() as u64;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "remote-write {protocol} encode+compress (1 core): {:>10.0} samples/s  {:>5.2} bytes/sample on the wire  ({} samples/request, {} bytes snappy, {} raw)",
        rate,
        bytes as f64 / entries.len() as f64,
        entries.len(),
        bytes,
        raw.len()
    );
    rate
}

async fn end_to_end() {
    let p = match redline_testkit_prometheus::Prometheus::start().await {
        Ok(p) => p,
        Err(e) => {
            println!("end-to-end: skipped, no Prometheus: {e}");
            return;
        }
    };
    let all = series(10_000);
    let w = RemoteWriter::start(Config {
        queue_capacity: 2_000_000,
        shards: 4,
        max_samples_per_send: 5_000,
        staleness_markers: false,
        ..Config::new(p.write_url())
    })
    .unwrap();
    let t0 = now_millis() - 200_000;
    let rounds = 100;
    let start = Instant::now();
    for r in 0..rounds {
        for s in &all {
            w.push(s, t0 + r * 1000, r as f64);
        }
    }
    let stats = w.stats().clone();
    w.shutdown(Duration::from_secs(120)).await;
    let secs = start.elapsed().as_secs_f64();
    let st = stats.snapshot();
    println!(
        "end-to-end into Prometheus 2.42: {:>10.0} samples/s  ({} sent, {} dropped, {:.1} s; Prometheus shares the 2 cores)",
        st.sent as f64 / secs,
        st.sent,
        st.dropped(),
        secs
    );
    if st.dropped() > 0 {
        println!(
            "  dropped: {st:?}\n  prometheus log tail: {}",
            p.log().lines().last().unwrap_or("")
        );
    }
}

fn main() {
    let rate = encode_per_core("1.0", encode_write_request);
    let rate_v2 = encode_per_core("2.0", encode_write_request_v2);
    println!(
        "goal >= 1,000,000 samples/s/core: 1.0 {}, 2.0 {}",
        if rate >= 1e6 { "met" } else { "NOT met" },
        if rate_v2 >= 1e6 { "met" } else { "NOT met" }
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(end_to_end());
}
