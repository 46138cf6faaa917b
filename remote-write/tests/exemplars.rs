//! Exemplars end to end: pushed through redline's sender in remote-write 1.0 (to Prometheus
//! 2.42 and 3) and 2.0 (to Prometheus 3), each started with
//! `--enable-feature=exemplar-storage`, and read back from `/api/v1/query_exemplars` with
//! their `trace_id`, value and timestamp: whether it was pushed beside its series' sample,
//! after that sample went out (it waits for the next one: Prometheus 3 refuses a 2.0 series
//! of exemplars alone), or last of all (it goes beside the series' staleness marker).

use std::time::{Duration, Instant};

use redline_remote_write::prompb::{Exemplar, Label};
use redline_remote_write::{
    Config, Metadata, MetricKind, Protocol, RemoteWriter, Series, now_millis,
};
use redline_testkit_prometheus::{Builder, Prometheus};

/// `(trace_id, value, timestamp ms)` as the receiver stored them.
type Stored = (String, f64, i64);

fn trace(n: u64) -> Exemplar {
    Exemplar {
        labels: vec![Label {
            name: "trace_id".into(),
            value: format!("{:032x}", 0xabc0_0000 + n),
        }],
        value: 0.25 * n as f64,
        timestamp: 0,
    }
}

/// Every exemplar `/api/v1/query_exemplars` has for `name` in the last hour.
async fn exemplars(p: &Prometheus, name: &str) -> Vec<Stored> {
    let end = now_millis() as f64 / 1000.0 + 60.0;
    let (start, end) = ((end - 3600.0).to_string(), end.to_string());
    let answer = p
        .api(
            "query_exemplars",
            &[("query", name), ("start", &start), ("end", &end)],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for series in answer["data"].as_array().unwrap() {
        assert_eq!(series["seriesLabels"]["__name__"], name, "{answer}");
        for x in series["exemplars"].as_array().unwrap() {
            let labels = x["labels"].as_object().unwrap();
            assert_eq!(labels.len(), 1, "only trace_id: {x}");
            out.push((
                labels["trace_id"].as_str().unwrap().to_string(),
                x["value"].as_str().unwrap().parse().unwrap(),
                (x["timestamp"].as_f64().unwrap() * 1000.0).round() as i64,
            ));
        }
    }
    out.sort_by_key(|x| x.2);
    out
}

/// Pushes, in `protocol`, four samples of a counter with an exemplar beside each, then (after
/// those went out) an exemplar, later a fifth sample, then a last exemplar, and shuts down
/// (writing the staleness marker); returns the exemplars pushed, oldest first.
async fn push(p: &Prometheus, protocol: Protocol, name: &str) -> Vec<Stored> {
    let w = RemoteWriter::start(Config {
        protocol,
        staleness_markers: true,
        batch_send_deadline: Duration::from_millis(50),
        ..Config::new(p.write_url())
    })
    .unwrap();
    let stats = w.stats().clone();
    let series = Series::new(name, [("job", "t")])
        .unwrap()
        .with_metadata(Metadata::new(MetricKind::Counter, "Requests a test sent."));
    let start = now_millis() - 10_000;
    let mut pushed = Vec::new();
    let mut exemplar = |n: u64| {
        let x = Exemplar {
            timestamp: start + 1_000 * n as i64 + 17,
            ..trace(n)
        };
        pushed.push((x.labels[0].value.clone(), x.value, x.timestamp));
        x
    };
    for n in 1..=4 {
        assert!(w.push(&series, start + 1_000 * n as i64, n as f64));
        assert!(w.push_exemplar(&series, exemplar(n)));
    }
    // Each after the request before it went out, so none has a sample beside it.
    let settle = Duration::from_millis(300);
    tokio::time::sleep(settle).await;
    assert!(w.push_exemplar(&series, exemplar(5)));
    tokio::time::sleep(settle).await;
    assert!(w.push(&series, start + 5_000, 5.0));
    tokio::time::sleep(settle).await;
    assert!(w.push_exemplar(&series, exemplar(6)));
    let report = w.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed, "{report:?}; log:\n{}", p.log());
    let st = stats.snapshot();
    // The floats and the marker.
    assert_eq!(
        (st.sent, st.sent_exemplars, st.dropped()),
        (5 + 1, 6, 0),
        "{name} in {protocol:?}: {st:?}; log:\n{}",
        p.log()
    );
    pushed
}

/// Polls until `name` has `want.len()` exemplars (or 15 s pass) and compares.
async fn assert_stored(p: &Prometheus, name: &str, want: &[Stored]) {
    let until = Instant::now() + Duration::from_secs(15);
    let mut got = exemplars(p, name).await;
    while got.len() < want.len() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        got = exemplars(p, name).await;
    }
    assert_eq!(got, want, "{name} on {}; log:\n{}", p.receiver(), p.log());
}

/// The server `builder` asks for, or `None` (skip) where this machine lacks it.
async fn start(builder: Builder) -> Option<Prometheus> {
    builder.start_or_skip().await.unwrap()
}

#[tokio::test]
async fn prometheus_2_42_stores_exemplars_sent_in_1_0() {
    let Some(p) = start(Prometheus::builder().v2().stock().exemplar_storage()).await else {
        return;
    };
    let pushed = push(&p, Protocol::V1, "ex_p2_v1_total").await;
    assert_stored(&p, "ex_p2_v1_total", &pushed).await;
}

#[tokio::test]
async fn prometheus_3_stores_exemplars_sent_in_1_0_and_in_2_0() {
    let Some(p) = start(Prometheus::builder().v3().stock().exemplar_storage()).await else {
        return;
    };
    for (protocol, name) in [
        (Protocol::V1, "ex_p3_v1_total"),
        (Protocol::V2, "ex_p3_v2_total"),
    ] {
        let pushed = push(&p, protocol, name).await;
        assert_stored(&p, name, &pushed).await;
    }
}

/// What the flag is for: without it both versions take the exemplars (a 2xx) and keep none.
#[tokio::test]
async fn without_exemplar_storage_prometheus_keeps_no_exemplars() {
    let Some(p) = start(Prometheus::builder().v3().stock()).await else {
        return;
    };
    push(&p, Protocol::V2, "ex_off_total").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(exemplars(&p, "ex_off_total").await, []);
}
