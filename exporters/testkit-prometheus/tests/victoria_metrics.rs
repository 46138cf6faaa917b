//! What a stock VictoriaMetrics does differently from Prometheus when queried right after a
//! write, which is what `redline verdict` does at the end of a run.

mod common;

use std::time::Duration;

use common::{client_config, now_s, start};
use redline_remote_write::{RemoteWriter, Series, now_millis};
use redline_testkit_prometheus::Prometheus;

/// Stock, it hides samples younger than 30 s (`-search.latencyOffset`) from every query but a
/// raw range selector; the harness starts it with the offset at 0 so tests see what they wrote.
#[tokio::test]
async fn a_stock_victoria_metrics_hides_the_last_thirty_seconds_from_queries() {
    for stock in [true, false] {
        let mut b = Prometheus::builder().victoria_metrics();
        if stock {
            b = b.stock();
        }
        let Some(p) = start(b).await else {
            return;
        };
        let w = RemoteWriter::start(client_config(&p)).unwrap();
        let series = Series::new("vm_fresh", [("job", "vm")]).unwrap();
        let t0 = (now_millis() / 1000 - 10) * 1000;
        for i in 0..3 {
            assert!(w.push(&series, t0 + i * 1000, (i + 1) as f64));
        }
        // The raw samples are there either way.
        let raw = p
            .wait_for("vm_fresh[1m]", Duration::from_secs(20), |r| {
                r.first().is_some_and(|s| s.values.len() == 3)
            })
            .await
            .unwrap();
        assert_eq!(raw[0].values.len(), 3, "stock={stock}: {raw:?}");
        for q in ["vm_fresh", "sum(vm_fresh)", "last_over_time(vm_fresh[1m])"] {
            let got = p.query_at(q, now_s()).await.unwrap();
            if stock {
                assert!(got.is_empty(), "stock: {q} showed {got:?}");
            } else {
                assert_eq!(got.len(), 1, "{q}: {got:?}");
                assert_eq!(got[0].float(), 3.0, "{q}");
            }
        }
        w.shutdown(Duration::from_secs(5)).await;
    }
}

/// A write sent twice (a retry after an answer the sender never got) is stored twice by a stock
/// VictoriaMetrics; the harness turns deduplication on, so a test's counts stay exact.
#[tokio::test]
async fn a_sample_written_twice_is_stored_once_with_deduplication_on() {
    for stock in [true, false] {
        let mut b = Prometheus::builder().victoria_metrics();
        if stock {
            b = b.stock();
        }
        let Some(p) = start(b).await else {
            return;
        };
        let series = Series::new("vm_twice", [("job", "vm")]).unwrap();
        let t = (now_millis() / 1000 - 5) * 1000;
        for _ in 0..2 {
            let w = RemoteWriter::start(client_config(&p)).unwrap();
            assert!(w.push(&series, t, 7.0));
            assert!(w.shutdown(Duration::from_secs(10)).await.completed);
        }
        // Each writer's shutdown also writes a staleness marker (NaN); those are not counted.
        let sevens = |r: &[redline_testkit_prometheus::Series]| {
            r.first()
                .map_or(0, |s| s.values.iter().filter(|(_, v)| v == "7").count())
        };
        let want = if stock { 2 } else { 1 };
        let raw = p
            .wait_for("vm_twice[1m]", Duration::from_secs(20), |r| {
                sevens(r) == want
            })
            .await
            .unwrap();
        assert_eq!(sevens(&raw), want, "stock={stock}: {raw:?}");
    }
}
