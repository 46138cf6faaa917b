//! Created timestamps end to end: a counter's and a native histogram's created time, sent by
//! remote-write 2.0 as each sample's `start_timestamp`, becomes the zero sample a real
//! Prometheus 3 started with `--enable-feature=created-timestamp-zero-ingestion` stores at
//! that instant (storage/remote/write_handler.go passes it to the appender; tsdb's
//! head_append_v2.go writes the zero when it is older than the sample and still in order).
//! A gauge, and the same counter sent in 1.0 (which has no field for it), get no such zero.

mod common;

use std::time::{Duration, Instant};

use common::native::three_observations;

use redline_remote_write::{
    Config, Metadata, MetricKind, Protocol, RemoteWriter, Series, now_millis,
};
use redline_testkit_prometheus::{Prometheus, Series as Stored};

fn config(p: &Prometheus, protocol: Protocol) -> Config {
    Config {
        protocol,
        staleness_markers: false,
        batch_send_deadline: Duration::from_millis(50),
        ..Config::new(p.write_url())
    }
}

/// `(timestamp ms, value)` of every float stored for `selector` in the last hour, and the
/// `(timestamp ms, count)` of every native histogram.
async fn raw(p: &Prometheus, selector: &str) -> (Vec<(i64, f64)>, Vec<(i64, f64)>) {
    let result = p.query(&format!("{selector}[1h]")).await.unwrap();
    assert!(result.len() <= 1, "{selector}: one series, got {result:?}");
    let series = result.first();
    (
        series.map(Stored::float_samples).unwrap_or_default(),
        series.map(Stored::histogram_counts).unwrap_or_default(),
    )
}

/// Polls until `selector` holds at least `n` floats and histograms together (or 15 s pass).
async fn wait_raw(p: &Prometheus, selector: &str, n: usize) -> (Vec<(i64, f64)>, Vec<(i64, f64)>) {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let got = raw(p, selector).await;
        if got.0.len() + got.1.len() >= n || Instant::now() > until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn prometheus_3_stores_a_zero_at_the_created_time_of_counters_and_histograms_sent_in_2_0() {
    let Some(p) = Prometheus::start_v3_with_created_zeros_or_skip().await else {
        return;
    };
    // A run that started a minute ago and pushed twice since.
    let now = now_millis();
    let created = now - 60_000;
    let (t1, t2) = (now - 40_000, now - 20_000);
    let counter = |name: &str| {
        Series::new(name, [("job", "t")])
            .unwrap()
            .with_metadata(Metadata::new(MetricKind::Counter, "Requests a test sent."))
            .with_created_timestamp(created)
    };
    let v2_counter = counter("ct_requests_total");
    let v1_counter = counter("ct_v1_requests_total");
    let hist = Series::new("ct_wait_seconds", [("job", "t")])
        .unwrap()
        .with_metadata(Metadata::new(MetricKind::Histogram, "Waits.").with_unit("seconds"))
        .with_created_timestamp(created + 7);
    let gauge = Series::new("ct_level", [("job", "t")])
        .unwrap()
        .with_metadata(Metadata::new(MetricKind::Gauge, "A level."));

    let w = RemoteWriter::start(config(&p, Protocol::V2)).unwrap();
    let stats = w.stats().clone();
    for (n, t) in [(1, t1), (2, t2)] {
        assert!(w.push(&v2_counter, t, 5.0 * n as f64));
        assert!(w.push(&gauge, t, 3.0));
        assert!(w.push_histogram(&hist, three_observations(t, n)));
        // Two requests: the second's start timestamp is older than what is stored and must
        // not add a second zero (or fail the request).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = w.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed, "{report:?}; log:\n{}", p.log());
    // Prometheus 3 confirmed every sample in its 2.0 written headers: the 2.0 requests were
    // taken whole, start timestamps and all.
    let st = stats.snapshot();
    assert_eq!(
        (st.sent, st.sent_histograms, st.unconfirmed, st.dropped()),
        (4, 2, 0, 0),
        "{st:?}"
    );

    let v1 = RemoteWriter::start(config(&p, Protocol::V1)).unwrap();
    assert!(v1.push(&v1_counter, t1, 5.0));
    assert!(v1.push(&v1_counter, t2, 10.0));
    assert!(v1.shutdown(Duration::from_secs(10)).await.completed);

    let (floats, _) = wait_raw(&p, "ct_requests_total", 3).await;
    assert_eq!(
        floats,
        [(created, 0.0), (t1, 5.0), (t2, 10.0)],
        "the counter starts from a zero at its created time"
    );
    let (_, histograms) = wait_raw(&p, "ct_wait_seconds", 3).await;
    assert_eq!(
        histograms,
        [(created + 7, 0.0), (t1, 3.0), (t2, 6.0)],
        "the native histogram starts from an empty one at its created time"
    );
    let (floats, _) = wait_raw(&p, "ct_level", 2).await;
    assert_eq!(
        floats,
        [(t1, 3.0), (t2, 3.0)],
        "a gauge has no created time"
    );
    let (floats, _) = wait_raw(&p, "ct_v1_requests_total", 2).await;
    assert_eq!(
        floats,
        [(t1, 5.0), (t2, 10.0)],
        "remote-write 1.0 has no field for the created time"
    );
}
