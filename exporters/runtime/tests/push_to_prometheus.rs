//! What the runtime pushes is what Prometheus stores, and what /metrics shows.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
use redline_runtime::{CommonArgs, Runtime};
use redline_testkit_prometheus::Prometheus;

type Labels = Vec<(&'static str, &'static str)>;

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A runtime pushing to `p` as run `testid`.
fn runtime_for(p: &Prometheus, testid: &str) -> Runtime {
    Runtime::new(
        &CommonArgs::for_test(&p.write_url(), testid),
        "runtime-test",
    )
    .unwrap()
}

/// The status of a GET of `url`.
async fn status_of(url: String) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

/// The body of a GET of `url`.
async fn text_of(url: String) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn counters_gauges_and_histograms_arrive_exactly_and_end_stale() {
    let p = Prometheus::start().await.unwrap();
    let args = CommonArgs {
        external_labels: vec![("cluster".into(), "ci".into())],
        ..CommonArgs::for_test(&p.write_url(), "rt-roundtrip")
    };
    let mut rt = Runtime::new(&args, "runtime-test").unwrap();
    let reqs = Family::<Labels, Counter>::default();
    rt.registry()
        .register("rt_requests", "Requests", reqs.clone());
    let level = Gauge::<i64>::default();
    rt.registry().register("rt_level", "Level", level.clone());
    let classic = Histogram::new([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]);
    rt.registry()
        .register("rt_classic_seconds", "Classic", classic.clone());
    let native = Histogram::new_native(NativeHistogramConfig::with_schema(5));
    rt.registry()
        .register("rt_native_seconds", "Native", native.clone());

    // 1000 observations uniform on (0, 0.1]: the median is 0.05, p90 is 0.09.
    for i in 1..=1000 {
        let v = i as f64 / 10_000.0;
        classic.observe(v);
        native.observe(v);
    }
    reqs.get_or_create(&vec![("code", "200")]).inc_by(41);
    reqs.get_or_create(&vec![("code", "500")]).inc_by(1);
    level.set(25);

    let running = rt.start().await.unwrap();
    running.set_ready(true);
    let admin = format!("http://{}", running.admin_addr());
    assert_eq!(status_of(format!("{admin}/ready")).await, 200);
    assert_eq!(status_of(format!("{admin}/live")).await, 200);
    let text = text_of(format!("{admin}/metrics")).await;
    assert!(
        text.contains(r#"rt_requests_total{testid="rt-roundtrip",code="200"} 41"#),
        "{text}"
    );
    assert!(
        text.contains("rt_level{testid=\"rt-roundtrip\"} 25"),
        "{text}"
    );

    let got = p
        .wait_for(
            r#"rt_requests_total{testid="rt-roundtrip"}"#,
            Duration::from_secs(10),
            |r| r.len() == 2,
        )
        .await
        .unwrap();
    let by_code = |code: &str| {
        got.iter()
            .find(|s| s.label("code") == Some(code))
            .unwrap()
            .float()
    };
    assert_eq!(by_code("200"), 41.0);
    assert_eq!(by_code("500"), 1.0);
    assert_eq!(got[0].label("cluster"), Some("ci"), "external label");
    // (query, value, how far off it may be): counts exact, estimates within their bucket.
    for (q, want, within) in [
        ("rt_level", 25.0, 0.0),
        ("rt_classic_seconds_count", 1000.0, 0.0),
        ("histogram_count(rt_native_seconds)", 1000.0, 0.0),
        ("histogram_sum(rt_native_seconds)", 50.05, 1e-6),
        // Classic: linear interpolation inside the (0.05, 0.1] bucket gives 0.09 exactly.
        (
            "histogram_quantile(0.9, rt_classic_seconds_bucket)",
            0.09,
            1e-9,
        ),
        // Native schema 5 buckets are ~2.2 % wide: the estimate is within a bucket.
        (
            "histogram_quantile(0.5, rt_native_seconds)",
            0.05,
            0.05 * 0.025,
        ),
        (
            "histogram_quantile(0.9, rt_native_seconds)",
            0.09,
            0.09 * 0.025,
        ),
    ] {
        let got = p.scalar(q).await.unwrap();
        let got = got.unwrap_or_else(|| panic!("{q}: no sample"));
        assert!(
            (got - want).abs() <= within,
            "{q}: {got}, want {want} ± {within}"
        );
    }

    // Values move with the registry between pushes.
    reqs.get_or_create(&vec![("code", "200")]).inc_by(9);
    let moved = p
        .wait_for(
            r#"rt_requests_total{code="200"}"#,
            Duration::from_secs(10),
            |r| r.first().map(|s| s.float()) == Some(50.0),
        )
        .await
        .unwrap();
    assert_eq!(moved[0].float(), 50.0);

    let report = running.finish().await.unwrap();
    let rw = report.remote_write.unwrap();
    assert!(rw.completed, "{rw:?}");
    assert_eq!(report.stats.unwrap().dropped(), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for q in [
        "rt_requests_total",
        "rt_level",
        "rt_classic_seconds_bucket",
        "rt_native_seconds",
    ] {
        let after = p.query_at(q, now_s() + 0.5).await.unwrap();
        assert!(
            after.is_empty(),
            "{q} still visible after finish: {after:?}"
        );
    }
    // The admin server is gone.
    assert!(reqwest::get(format!("{admin}/live")).await.is_err());
}

#[tokio::test]
async fn self_metrics_of_remote_write_are_exposed_and_pushed() {
    let p = Prometheus::start().await.unwrap();
    let rt = runtime_for(&p, "rt-self");
    let running = rt.start().await.unwrap();
    let text = text_of(format!("http://{}/metrics", running.admin_addr())).await;
    for name in redline_catalogue::remote_write::ALL {
        assert!(
            text.contains(&format!("# TYPE {} ", name.name)),
            "{} not exposed:\n{text}",
            name.name
        );
        assert!(
            !text.contains(".."),
            "help text ends with a doubled period:\n{text}"
        );
    }
    let sent = p
        .wait_for(
            r#"redline_remote_write_samples_sent_total{kind="float",testid="rt-self"}"#,
            Duration::from_secs(10),
            |r| r.first().is_some_and(|s| s.float() > 0.0),
        )
        .await
        .unwrap();
    assert!(sent[0].float() > 0.0, "{sent:?}");
    running.finish().await.unwrap();
}

#[tokio::test]
async fn scrape_only_mode_needs_no_prometheus() {
    let mut rt = Runtime::new(&CommonArgs::default(), "runtime-test").unwrap();
    let c = Counter::<u64>::default();
    c.inc();
    rt.registry().register("rt_scrape_only", "x", c);
    let running = rt.start().await.unwrap();
    let ready = status_of(format!("http://{}/ready", running.admin_addr())).await;
    assert_eq!(ready, 503, "not ready until the daemon says so");
    let text = text_of(format!("http://{}/metrics", running.admin_addr())).await;
    assert!(
        text.contains("rt_scrape_only_total{testid=\"test\"} 1"),
        "{text}"
    );
    let report = running.finish().await.unwrap();
    assert!(report.remote_write.is_none());
}

#[tokio::test]
async fn a_forwarder_handle_held_at_finish_is_an_error_not_a_hang() {
    let p = Prometheus::start().await.unwrap();
    let rt = runtime_for(&p, "rt-held");
    let running = rt.start().await.unwrap();
    let held = running.remote_writer().unwrap();
    let e = running.finish().await.unwrap_err();
    assert!(e.to_string().contains("still held"), "{e}");
    drop(held);
}

#[tokio::test]
async fn a_series_removed_from_the_registry_is_marked_stale_at_once() {
    let p = Prometheus::start().await.unwrap();
    let mut rt = runtime_for(&p, "rt-gone");
    let level = Family::<Labels, Gauge>::default();
    rt.registry()
        .register("rt_step_level", "Level of a running step", level.clone());
    level.get_or_create(&vec![("step", "1")]).set(10);
    level.get_or_create(&vec![("step", "2")]).set(25);
    let running = rt.start().await.unwrap();
    let both = p
        .wait_for("rt_step_level", Duration::from_secs(10), |r| r.len() == 2)
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    // Step 1 ends: its gauge leaves the registry.
    level.remove(&vec![("step", "1")]);
    running.push_now().await;
    let gone = p
        .wait_for("rt_step_level", Duration::from_secs(10), |r| r.len() == 1)
        .await
        .unwrap();
    assert_eq!(
        gone.len(),
        1,
        "step 1 should be stale now, not held for 5 minutes: {gone:?}"
    );
    assert_eq!(gone[0].label("step"), Some("2"));
    running.finish().await.unwrap();
}

/// A stock Prometheus 2 (receiver on, native histograms off) with the default flags: the
/// floats arrive at once, a native-only histogram arrives as classic series at its native
/// bucket bounds, a classic-and-native one as its classic buckets alone; nothing is lost.
/// With `--native-histogram-fallback drop` the native-only histogram is counted lost.
#[tokio::test]
async fn a_stock_prometheus_2_gets_floats_and_classic_buckets_and_nothing_is_lost() {
    use redline_runtime::{HistogramFallbackArg, samples_lost};
    let stock_v2 = Prometheus::builder().v2().stock();
    let Some(p) = stock_v2.start_or_skip().await.unwrap() else {
        return;
    };
    assert!(!p.takes_native_histograms());
    for (testid, fallback) in [
        ("rt-stock-classic", HistogramFallbackArg::Classic),
        ("rt-stock-drop", HistogramFallbackArg::Drop),
    ] {
        let args = CommonArgs {
            native_histogram_fallback: fallback,
            ..CommonArgs::for_test(&p.write_url(), testid)
        };
        let mut rt = Runtime::new(&args, "runtime-test").unwrap();
        let reqs = Counter::<u64>::default();
        rt.registry()
            .register("rt_stock_requests", "Requests", reqs.clone());
        let native = Histogram::new_native(NativeHistogramConfig::with_schema(0));
        rt.registry()
            .register("rt_stock_native_seconds", "Native", native.clone());
        let both =
            Histogram::new_classic_and_native([0.1, 1.0], NativeHistogramConfig::with_schema(3));
        rt.registry()
            .register("rt_stock_both_seconds", "Both", both.clone());
        // 0.75 is in native bucket (0.5, 1], 3.0 in (2, 4].
        for v in [0.75, 0.75, 3.0] {
            native.observe(v);
            both.observe(v);
        }
        reqs.inc_by(7);
        let lost_before = samples_lost();
        let running = rt.start().await.unwrap();
        // A few pushes: the first is refused for its histograms, the rest go as classic.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let report = running.finish().await.unwrap();
        let stats = report.stats.unwrap();
        let last = |q: &str| format!("last_over_time({q}{{testid=\"{testid}\"}}[5m])");
        let value = |r: Vec<redline_testkit_prometheus::Series>| r.first().map(|s| s.float());
        let got = p
            .wait_for(
                &last("rt_stock_requests_total"),
                Duration::from_secs(10),
                |r| !r.is_empty(),
            )
            .await
            .unwrap();
        assert_eq!(
            value(got),
            Some(7.0),
            "{testid}: the floats are never held back"
        );
        assert_eq!(
            value(p.query(&last("rt_stock_both_seconds_count")).await.unwrap()),
            Some(3.0)
        );
        let both_buckets = p
            .query(&last("rt_stock_both_seconds_bucket"))
            .await
            .unwrap();
        let mut les: Vec<_> = both_buckets
            .iter()
            .filter_map(|s| s.label("le").map(str::to_string))
            .collect();
        les.sort();
        assert_eq!(
            les,
            ["+Inf", "0.1", "1"],
            "{testid}: the classic buckets alone"
        );
        let native_buckets = p
            .query(&last("rt_stock_native_seconds_bucket"))
            .await
            .unwrap();
        match fallback {
            HistogramFallbackArg::Classic => {
                assert_eq!(stats.dropped(), 0, "{stats:?}");
                assert_eq!(samples_lost(), lost_before);
                let le = |b: &str| {
                    native_buckets
                        .iter()
                        .find(|s| s.label("le") == Some(b))
                        .map(|s| s.float())
                };
                assert_eq!(
                    (le("1"), le("4"), le("+Inf")),
                    (Some(2.0), Some(3.0), Some(3.0)),
                    "{native_buckets:?}"
                );
                assert_eq!(
                    value(
                        p.query(&last("rt_stock_native_seconds_count"))
                            .await
                            .unwrap()
                    ),
                    Some(3.0)
                );
            }
            HistogramFallbackArg::Drop => {
                assert!(native_buckets.is_empty(), "{native_buckets:?}");
                assert!(stats.dropped_histograms_refused > 0, "{stats:?}");
                assert_eq!(stats.dropped(), stats.dropped_histograms_refused);
                assert_eq!(samples_lost() - lost_before, stats.dropped());
            }
        }
    }
}

/// Two daemons of one run (churn and dst-client in `hack/linkerd-scenarios.sh --local`)
/// share the testid and the external labels, and both push the remote-write self-metrics.
/// Without a label telling the daemons apart they wrote the same series, each with its own
/// timestamps, and Prometheus refused whichever arrived behind the other as out of order
/// (and the counters of two processes read as resets). Each daemon's copy is its own series.
#[tokio::test]
async fn two_daemons_of_one_run_write_their_own_self_metrics() {
    let p = Prometheus::start().await.unwrap();
    let mut runs = Vec::new();
    for daemon in ["churn", "dst-client"] {
        let args = CommonArgs {
            push_interval: Duration::from_millis(20),
            external_labels: vec![("scenario".into(), "linkerd-baseline".into())],
            ..CommonArgs::for_test(&p.write_url(), "rt-two-daemons")
        };
        runs.push(Runtime::new(&args, daemon).unwrap().start().await.unwrap());
    }
    // Many interleaved pushes from both: enough for an out-of-order arrival to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for running in runs {
        let stats = running.finish().await.unwrap().stats.unwrap();
        // (`failed` may count the first requests of the protocol negotiation, sent again.)
        assert_eq!(stats.dropped(), 0, "{stats:?}");
    }
    let got = p
        .wait_for(
            r#"last_over_time(redline_remote_write_queue_capacity{testid="rt-two-daemons"}[5m])"#,
            Duration::from_secs(10),
            |r| r.len() == 2,
        )
        .await
        .unwrap();
    let mut daemons: Vec<_> = got.iter().filter_map(|s| s.label("daemon")).collect();
    daemons.sort();
    assert_eq!(daemons, ["churn", "dst-client"], "{got:?}");
}
