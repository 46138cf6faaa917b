//! Remote-write 1.0 and 2.0 against the receivers users run, each through a receiver outage
//! mid-run (stopped by pid, restarted on the same port and data): Prometheus 3 spoken to in
//! 2.0 (exact counts, metadata, native histograms), a stock Prometheus 2.42 with `auto`
//! (falls back to 1.0, nothing lost), VictoriaMetrics in 1.0 (exact counts).

mod common;

use std::time::{Duration, Instant};

use common::native::three_observations;

use redline_remote_write::prompb::{Exemplar, Label};
use redline_remote_write::{
    Config, Metadata, MetricKind, Protocol, RemoteWriter, Series, StatsSnapshot, now_millis,
};
use redline_testkit_prometheus::{Builder, Prometheus, Receiver};

/// Float series per run; each gets one sample per tick.
const FLOAT_SERIES: usize = 4;
const TICK: Duration = Duration::from_millis(50);

struct Pushed {
    floats: u64,
    histograms: u64,
    exemplars: u64,
    stats: StatsSnapshot,
}

fn config(p: &Prometheus, protocol: Protocol) -> Config {
    Config {
        protocol,
        batch_send_deadline: Duration::from_millis(50),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        ..Config::new(p.write_url())
    }
}

/// Pushes `name`'s series for 1 s, stops the receiver, pushes for 1.5 s more, restarts it on
/// the same port and data, pushes for 1 s, and shuts the writer down; returns what it pushed.
async fn push_through_an_outage(
    p: &mut Prometheus,
    cfg: Config,
    name: &str,
    with_histograms: bool,
    with_exemplars: bool,
) -> Pushed {
    let w = RemoteWriter::start(cfg).unwrap();
    let counters: Vec<Series> = (0..FLOAT_SERIES)
        .map(|i| {
            Series::new(&format!("{name}_total"), [("n", i.to_string())])
                .unwrap()
                .with_metadata(Metadata::new(MetricKind::Counter, "Things a test counted."))
        })
        .collect();
    let hist = Series::new(&format!("{name}_seconds"), [("job", "t")])
        .unwrap()
        .with_metadata(
            Metadata::new(MetricKind::Histogram, "How long a test waited.").with_unit("seconds"),
        );
    let mut pushed = Pushed {
        floats: 0,
        histograms: 0,
        exemplars: 0,
        stats: StatsSnapshot::default(),
    };
    let start = Instant::now();
    let (mut stopped, mut restarted) = (false, false);
    let mut last_ts = 0;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while start.elapsed() < Duration::from_millis(3_500) {
        tick.tick().await;
        if !stopped && start.elapsed() >= Duration::from_secs(1) {
            stop(p).await;
            stopped = true;
        }
        if !restarted && start.elapsed() >= Duration::from_millis(2_500) {
            p.restart().await.unwrap();
            restarted = true;
        }
        last_ts = now_millis().max(last_ts + 1);
        for s in &counters {
            assert!(w.push(s, last_ts, pushed.floats as f64));
            pushed.floats += 1;
        }
        if with_exemplars {
            let x = Exemplar {
                labels: vec![Label {
                    name: "trace_id".into(),
                    value: format!("{:016x}", pushed.exemplars),
                }],
                value: 1.0,
                timestamp: last_ts,
            };
            assert!(w.push_exemplar(&counters[0], x));
            pushed.exemplars += 1;
        }
        if with_histograms {
            pushed.histograms += 1;
            assert!(w.push_histogram(&hist, three_observations(last_ts, pushed.histograms)));
        }
    }
    assert!(stopped && restarted);
    let stats = w.stats().clone();
    let report = w.shutdown(Duration::from_secs(20)).await;
    assert!(report.completed, "{report:?}; log:\n{}", p.log());
    assert_eq!(report.dropped_at_deadline, 0);
    pushed.stats = stats.snapshot();
    assert_eq!(pushed.stats.dropped(), 0, "{:?}", pushed.stats);
    assert!(pushed.stats.retried > 0, "the outage shows as retries");
    pushed
}

/// Takes the receiver down by its pid. Prometheus is killed (SIGKILL): its WAL holds what it
/// acknowledged. VictoriaMetrics keeps the last second of acknowledged samples in memory, and
/// a SIGKILL loses them on its side (measured: 76 of 260 samples), so it gets the SIGTERM an
/// orchestrator sends and is reaped once it has flushed and exited.
async fn stop(p: &mut Prometheus) {
    if p.receiver() == Receiver::VictoriaMetrics {
        let pid = p.pid().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let until = Instant::now() + Duration::from_secs(20);
        // Exited, not yet reaped: a zombie ("Z" in /proc/<pid>/stat).
        while Instant::now() < until {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    p.stop();
}

/// Samples stored for `selector` over the last 10 minutes, floats and histograms alike,
/// counted from the raw range-query answer. Prometheus leaves staleness markers out of it;
/// VictoriaMetrics returns them as NaN, which no pushed sample is, so NaNs are not counted.
async fn stored(p: &Prometheus, selector: &str) -> (u64, u64) {
    let answer = p
        .api("query", &[("query", &format!("{selector}[10m]"))])
        .await
        .unwrap();
    let mut floats = 0;
    let mut histograms = 0;
    for series in answer["data"]["result"].as_array().unwrap() {
        floats += series["values"].as_array().map_or(0, |v| {
            v.iter().filter(|p| p[1].as_str() != Some("NaN")).count()
        }) as u64;
        histograms += series["histograms"].as_array().map_or(0, Vec::len) as u64;
    }
    (floats, histograms)
}

/// Polls until `selector` holds `want` (float, histogram) samples or 15 s pass.
async fn wait_stored(p: &Prometheus, selector: &str, want: (u64, u64)) -> (u64, u64) {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let got = stored(p, selector).await;
        if got == want || Instant::now() > until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn prometheus_3_spoken_to_in_2_0_stores_everything_with_metadata_through_an_outage() {
    let Some(mut p) = Prometheus::builder()
        .v3()
        .stock()
        .start_or_skip()
        .await
        .unwrap()
    else {
        return;
    };
    let cfg = config(&p, Protocol::V2);
    let pushed = push_through_an_outage(&mut p, cfg, "rw2_p3", true, true).await;

    let got = wait_stored(
        &p,
        r#"{__name__=~"rw2_p3_.*"}"#,
        (pushed.floats, pushed.histograms),
    )
    .await;
    assert_eq!(
        got,
        (pushed.floats, pushed.histograms),
        "{:?}",
        pushed.stats
    );
    // Plus one staleness marker per series.
    let st = pushed.stats;
    assert_eq!(
        (st.sent, st.sent_histograms, st.sent_exemplars),
        (
            pushed.floats + FLOAT_SERIES as u64,
            pushed.histograms + 1,
            pushed.exemplars
        ),
        "{st:?}"
    );
    // Native histograms are queryable as such: the last one counted 3·n observations.
    let count = p
        .scalar(r#"histogram_count(last_over_time(rw2_p3_seconds[10m]))"#)
        .await
        .unwrap();
    assert_eq!(count, Some(3.0 * pushed.histograms as f64));

    // The receiver's written headers confirmed every sample, histogram and exemplar.
    assert_eq!(st.unconfirmed, 0, "{st:?}");
    // (A stock 3.16 counts exemplars as written although, without
    // --enable-feature=exemplar-storage, /api/v1/query_exemplars then returns none of them:
    // measured. Its header says "appended without error", not "queryable".)

    // Metadata: Prometheus 3.16's /api/v1/metadata lists what its scrape targets expose only
    // (web/api/v1/api.go, metricMetadata), never remote-written metadata; its write handler
    // counts what arrived without any instead. Every series above had it, so the count is 0,
    // and one sample of a series without metadata moves it to 1.
    assert_eq!(without_metadata(&p).await, 0.0);
    let w = RemoteWriter::start(Config {
        staleness_markers: false,
        ..config(&p, Protocol::V2)
    })
    .unwrap();
    let bare = Series::new("rw2_p3_bare", [("job", "t")]).unwrap();
    assert!(w.push(&bare, now_millis(), 1.0));
    assert!(w.shutdown(Duration::from_secs(10)).await.completed);
    assert_eq!(without_metadata(&p).await, 1.0);
}

/// `prometheus_api_remote_write_without_metadata_appended_samples_total` from the server's own
/// `/metrics`.
async fn without_metadata(p: &Prometheus) -> f64 {
    const NAME: &str = "prometheus_api_remote_write_without_metadata_appended_samples_total";
    let text = reqwest::get(format!("{}/metrics", p.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(NAME)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{NAME} not in /metrics"))
}

/// Starts `builder`'s receiver (or skips where it is not installed), pushes floats only
/// through an outage in `protocol` under `name`, and checks every float was stored.
async fn floats_through_an_outage(
    builder: Builder,
    protocol: Protocol,
    name: &str,
) -> Option<Pushed> {
    let mut p = builder.start_or_skip().await.unwrap()?;
    let cfg = config(&p, protocol);
    let pushed = push_through_an_outage(&mut p, cfg, name, false, false).await;
    let selector = format!(r#"{{__name__=~"{name}_.*"}}"#);
    let got = wait_stored(&p, &selector, (pushed.floats, 0)).await;
    assert_eq!(got, (pushed.floats, 0), "{:?}", pushed.stats);
    Some(pushed)
}

#[tokio::test]
async fn a_stock_prometheus_2_42_with_auto_gets_1_0_and_loses_nothing_through_an_outage() {
    let builder = Prometheus::builder().v2().stock();
    let Some(pushed) = floats_through_an_outage(builder, Protocol::Auto, "rw2_p2").await else {
        return;
    };
    assert_eq!(pushed.stats.unconfirmed, 0);
    eprintln!("stats: {:?}", pushed.stats);
}

#[tokio::test]
async fn victoria_metrics_spoken_to_in_1_0_stores_exact_counts_through_an_outage() {
    let builder = Prometheus::builder().victoria_metrics();
    floats_through_an_outage(builder, Protocol::V1, "rw2_vm").await;
}

/// The daemons' default, `auto`, against VictoriaMetrics: it answers 2.0 as a 1.0 receiver
/// does, so redline falls back and nothing is lost.
#[tokio::test]
async fn victoria_metrics_with_the_default_auto_gets_1_0_and_loses_nothing() {
    let builder = Prometheus::builder().victoria_metrics();
    let Some(pushed) = floats_through_an_outage(builder, Protocol::Auto, "rw2_vma").await else {
        return;
    };
    assert_eq!(pushed.stats.unconfirmed, 0);
}

/// What `auto` relies on: a 1.0-only receiver answers a 2.0 request with a 2xx that carries no
/// written header, having stored nothing of it (it reads the 2.0 body as an empty 1.0 one).
#[tokio::test]
async fn receivers_that_speak_only_1_0_answer_a_2_0_request_without_written_headers() {
    for builder in [
        Prometheus::builder().v2().stock(),
        Prometheus::builder().victoria_metrics(),
    ] {
        let Some(p) = builder.start_or_skip().await.unwrap() else {
            continue;
        };
        let s = Series::new("rw2_probe", [("job", "t")]).unwrap();
        let samples = [redline_remote_write::prompb::Sample {
            value: 1.0,
            timestamp: now_millis(),
        }];
        let entry = redline_remote_write::Entry {
            series: &s,
            samples: &samples,
            histograms: &[],
            exemplars: &[],
        };
        let mut raw = Vec::new();
        redline_remote_write::encode_write_request_v2(&[entry], &mut raw);
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let r = reqwest::Client::new()
            .post(p.write_url())
            .header(
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            )
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "2.0.0")
            .body(body)
            .send()
            .await
            .unwrap();
        let receiver = p.receiver();
        assert!(r.status().is_success(), "{receiver}: {}", r.status());
        assert!(
            !r.headers()
                .keys()
                .any(|k| k.as_str().starts_with("x-prometheus-remote-write-")),
            "{receiver}: {:?}",
            r.headers()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(stored(&p, "rw2_probe").await, (0, 0), "{receiver}");
    }
}
