//! A daemon's counters and histograms reach Prometheus 3 (spoken to in 2.0, as the default
//! `--remote-write-protocol auto` chooses) with their created time, which
//! `--enable-feature=created-timestamp-zero-ingestion` stores as a zero: a counter child
//! created mid-run starts from 0 just after the collection that lacked it, so its first
//! increase counts. A gauge gets no such zero.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
use redline_runtime::{CommonArgs, Runtime};
use redline_testkit_prometheus::Prometheus;

type Labels = Vec<(&'static str, &'static str)>;

/// `(timestamp ms, value)` of every float (or native histogram's count) stored for
/// `selector`, a single series, in the last hour.
async fn raw(p: &Prometheus, selector: &str) -> Vec<(i64, f64)> {
    let result = p.query(&format!("{selector}[1h]")).await.unwrap();
    assert_eq!(result.len(), 1, "{selector}: {result:?}");
    [result[0].float_samples(), result[0].histogram_counts()].concat()
}

/// Waits until `selector` has a sample in Prometheus (or 10 s pass).
async fn wait_stored(p: &Prometheus, selector: &str) {
    p.wait_for(selector, Duration::from_secs(10), |r| r.len() == 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn counters_and_histograms_start_from_a_zero_at_their_created_time_in_prometheus_3() {
    let Some(p) = Prometheus::start_v3_with_created_zeros_or_skip().await else {
        return;
    };
    let args = CommonArgs::for_test(&p.write_url(), "rt-created");
    let mut rt = Runtime::new(&args, "runtime-test").unwrap();
    let reqs = Family::<Labels, Counter>::default();
    rt.registry()
        .register("rt_ct_requests", "Requests", reqs.clone());
    let level = Gauge::<i64>::default();
    rt.registry()
        .register("rt_ct_level", "Level", level.clone());
    let classic = Histogram::new([0.1, 1.0]);
    rt.registry()
        .register("rt_ct_classic_seconds", "Classic", classic.clone());
    let native = Histogram::new_native(NativeHistogramConfig::with_schema(3));
    rt.registry()
        .register("rt_ct_native_seconds", "Native", native.clone());
    reqs.get_or_create(&vec![("code", "200")]).inc_by(5);
    level.set(25);
    classic.observe(0.5);
    native.observe(0.5);

    let running = rt.start().await.unwrap();
    wait_stored(&p, r#"rt_ct_requests_total{code="200"}"#).await;
    // A child created mid-run, after at least one collection went without it.
    reqs.get_or_create(&vec![("code", "500")]).inc_by(2);
    wait_stored(&p, r#"rt_ct_requests_total{code="500"}"#).await;
    running.finish().await.unwrap();

    let ok = raw(&p, r#"rt_ct_requests_total{code="200"}"#).await;
    assert_eq!(ok[0].1, 0.0, "a zero first: {ok:?}");
    assert!(
        ok[1..].iter().all(|&(t, v)| v == 5.0 && t > ok[0].0),
        "{ok:?}"
    );

    let late = raw(&p, r#"rt_ct_requests_total{code="500"}"#).await;
    let (zero_at, zero) = late[0];
    assert_eq!(zero, 0.0, "{late:?}");
    assert!(late[1..].iter().all(|&(_, v)| v == 2.0), "{late:?}");
    assert!(
        ok.iter().any(|&(t, _)| t == zero_at - 1),
        "the zero is 1 ms after a collection that lacked the child: {late:?} vs {ok:?}"
    );

    for selector in ["rt_ct_classic_seconds_count", "rt_ct_native_seconds"] {
        let got = raw(&p, selector).await;
        assert_eq!(got[0].1, 0.0, "{selector}: {got:?}");
        assert!(
            got[1..].iter().all(|&(_, v)| v == 1.0),
            "{selector}: {got:?}"
        );
    }
    let gauge = raw(&p, "rt_ct_level").await;
    assert!(gauge.iter().all(|&(_, v)| v == 25.0), "no zero: {gauge:?}");
}
