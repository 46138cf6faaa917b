//! Against a real Prometheus: what is pushed is what is stored, outages lose
//! nothing, the end of a run is visible, and Prometheus' own 400s are not retried.

mod common;

use std::time::Duration;

use common::native::three_observations;

use redline_remote_write::{Config, RemoteWriter, Series, now_millis};
use redline_testkit_prometheus::Prometheus;

fn config(p: &Prometheus) -> Config {
    Config {
        batch_send_deadline: Duration::from_millis(50),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(500),
        ..Config::new(p.write_url())
    }
}

fn now_s() -> f64 {
    now_millis() as f64 / 1000.0
}

#[tokio::test]
async fn floats_and_native_histograms_are_stored_exactly_then_marked_stale() {
    let p = Prometheus::start().await.unwrap();
    let w = RemoteWriter::start(Config {
        external_labels: vec![("cluster".into(), "test".into())],
        ..config(&p)
    })
    .unwrap();
    let s = Series::new("rw_roundtrip", [("job", "t"), ("code", "200")]).unwrap();
    let t0 = now_millis() - 3_000;
    for (i, v) in [1.5, 2.25, 3.0].into_iter().enumerate() {
        assert!(w.push(&s, t0 + i as i64 * 1000, v));
    }
    let h = three_observations(t0 + 2000, 1);
    let hs = Series::new("rw_native_seconds", [("job", "t")]).unwrap();
    assert!(w.push_histogram(&hs, h));

    let got = p
        .wait_for("rw_roundtrip", Duration::from_secs(10), |r| {
            r.len() == 1 && r[0].float() == 3.0
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].label("cluster"), Some("test"));
    assert_eq!(got[0].label("code"), Some("200"));
    let values = p
        .query("rw_roundtrip[1m]")
        .await
        .unwrap()
        .remove(0)
        .values
        .into_iter()
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(values, [1.5, 2.25, 3.0]);

    assert_eq!(
        p.scalar("histogram_count(rw_native_seconds)")
            .await
            .unwrap(),
        Some(3.0)
    );
    assert_eq!(
        p.scalar("histogram_sum(rw_native_seconds)").await.unwrap(),
        Some(0.7)
    );
    // The median observation (0.2) lies in bucket (0.125, 0.25].
    let q50 = p
        .scalar("histogram_quantile(0.5, rw_native_seconds)")
        .await
        .unwrap()
        .unwrap();
    assert!((0.125..=0.25).contains(&q50), "p50 {q50}");

    let report = w.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed);
    assert_eq!(report.stale_markers, 2);
    // Evaluated a moment after the marker: no value, where without the marker
    // Prometheus would repeat the last one for 5 minutes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = p.query_at("rw_roundtrip", now_s() + 0.5).await.unwrap();
    assert!(after.is_empty(), "still visible after shutdown: {after:?}");
    let after = p
        .query_at("rw_native_seconds", now_s() + 0.5)
        .await
        .unwrap();
    assert!(after.is_empty(), "histogram still visible: {after:?}");
}

/// The design-notes measurement, turned into a test: k6 loses every sample made
/// while the receiver is down; this client must lose none.
#[tokio::test]
async fn a_twenty_second_outage_mid_run_loses_nothing() {
    let mut p = Prometheus::start().await.unwrap();
    let cfg = Config {
        queue_capacity: 2_000,
        ..config(&p)
    };
    let capacity = cfg.queue_capacity as i64;
    let w = RemoteWriter::start(cfg).unwrap();
    let s = Series::new("rw_outage", [("job", "t")]).unwrap();
    let mut pushed = 0u32;
    let mut max_queue = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ts = 0;
    let start = std::time::Instant::now();
    let mut stopped = false;
    let mut restarted = false;
    // 3 s up, 20 s down, 3 s up; one sample each 100 ms.
    while start.elapsed() < Duration::from_secs(26) {
        tick.tick().await;
        let e = start.elapsed();
        if !stopped && e >= Duration::from_secs(3) {
            p.stop();
            stopped = true;
        }
        if !restarted && e >= Duration::from_secs(23) {
            p.restart().await.unwrap();
            restarted = true;
        }
        last_ts = now_millis().max(last_ts + 1);
        assert!(w.push(&s, last_ts, pushed as f64));
        pushed += 1;
        max_queue = max_queue.max(w.stats().snapshot().queue_length);
    }
    let retried = w.stats().snapshot().retried;
    let stats = w.stats().clone();
    let report = w.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed, "{report:?}");
    let st = report_stats(&p, "count_over_time(rw_outage[5m])").await;
    if st != pushed as f64 {
        let stored: Vec<u32> = p.query("rw_outage[5m]").await.unwrap()[0]
            .values
            .iter()
            .map(|(_, v)| v.parse::<f64>().unwrap() as u32)
            .collect();
        let missing: Vec<u32> = (0..pushed).filter(|i| !stored.contains(i)).collect();
        panic!(
            "stored {st} of {pushed} samples; missing values {missing:?}; {:?}; prometheus log:\n{}",
            stats.snapshot(),
            p.log()
        );
    }
    assert!(retried > 0, "the outage must show as retries");
    assert!(
        max_queue <= capacity,
        "queue {max_queue} above its bound {capacity}"
    );
}

/// An outage at the very end: shutdown keeps retrying within its grace period,
/// so a receiver that is back in time gets everything, stale markers included.
#[tokio::test]
async fn shutdown_outlasts_an_outage_at_the_end_of_the_run() {
    let mut p = Prometheus::start().await.unwrap();
    let w = RemoteWriter::start(config(&p)).unwrap();
    let s = Series::new("rw_end_outage", [("job", "t")]).unwrap();
    let t0 = now_millis() - 10_000;
    for i in 0..50 {
        w.push(&s, t0 + i * 100, i as f64);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.stop();
    for i in 50..100 {
        w.push(&s, t0 + i * 100, i as f64);
    }
    let shutdown = tokio::spawn(w.shutdown(Duration::from_secs(20)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    p.restart().await.unwrap();
    let report = shutdown.await.unwrap();
    assert!(report.completed, "{report:?}");
    assert_eq!(report.dropped_at_deadline, 0);
    assert_eq!(report.stale_markers, 1);
    // count_over_time ignores the staleness marker.
    let n = report_stats(&p, "count_over_time(rw_end_outage[5m])").await;
    assert_eq!(n, 100.0);
}

/// When the receiver stays down past the deadline, the report says how much was lost.
#[tokio::test]
async fn shutdown_reports_what_it_could_not_deliver() {
    let mut p = Prometheus::start().await.unwrap();
    let w = RemoteWriter::start(config(&p)).unwrap();
    p.stop();
    let s = Series::new("rw_lost", [("job", "t")]).unwrap();
    let t0 = now_millis();
    for i in 0..30 {
        w.push(&s, t0 + i, 1.0);
    }
    let report = w.shutdown(Duration::from_millis(800)).await;
    assert!(!report.completed);
    assert_eq!(report.dropped_at_deadline, 30);
    assert_eq!(report.stale_markers, 0);
}

#[tokio::test]
async fn prometheus_out_of_order_rejection_is_dropped_not_retried() {
    let p = Prometheus::start().await.unwrap();
    let s = Series::new("rw_ooo", [("job", "t")]).unwrap();
    let now = now_millis();
    let first = RemoteWriter::start(Config {
        staleness_markers: false,
        ..config(&p)
    })
    .unwrap();
    first.push(&s, now, 1.0);
    first.shutdown(Duration::from_secs(5)).await;
    assert_eq!(p.scalar("rw_ooo").await.unwrap(), Some(1.0));
    // A second writer (another pod, say) writes the same series in the past.
    let second = RemoteWriter::start(Config {
        staleness_markers: false,
        ..config(&p)
    })
    .unwrap();
    second.push(&s, now - 60_000, 2.0);
    let stats = second.stats().clone();
    second.shutdown(Duration::from_secs(5)).await;
    let st = stats.snapshot();
    assert_eq!(st.dropped_rejected, 1, "{st:?}");
    assert_eq!(st.retried, 0);
    assert_eq!(st.sent, 0);
}

async fn report_stats(p: &Prometheus, q: &str) -> f64 {
    p.wait_for(q, Duration::from_secs(10), |_| true)
        .await
        .unwrap()
        .first()
        .map(|s| s.float())
        .unwrap_or(0.0)
}
