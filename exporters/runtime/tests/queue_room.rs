//! `Runtime::wait_for_queue_room`: through a receiver outage longer than the queue, the push
//! loop's collections wait for room instead of being dropped, and arrive once the receiver is
//! back; the same outage without it drops samples (so the scenario does fill the queue).

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redline_runtime::{CommonArgs, Running, Runtime};
use redline_testkit_prometheus::Prometheus;

/// A runtime pushing every 200 ms into a queue of 200 samples (one shard), with one counter.
async fn start(p: &Prometheus, testid: &str, wait: bool) -> (Running, Counter) {
    let args = CommonArgs {
        remote_write_shards: 1,
        remote_write_queue_capacity: 200,
        shutdown_grace: Duration::from_secs(20),
        ..CommonArgs::for_test(&p.write_url(), testid)
    };
    let mut rt = Runtime::new(&args, "queue-room-test").unwrap();
    let events = Counter::default();
    rt.registry()
        .register("rt_events", "Events", events.clone());
    if wait {
        rt.wait_for_queue_room();
    }
    (rt.start().await.unwrap(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_wait_out_an_outage_longer_than_the_queue_instead_of_being_dropped() {
    let mut p = Prometheus::start().await.unwrap();
    let (waiting, waiting_events) = start(&p, "room-wait", true).await;
    let (dropping, dropping_events) = start(&p, "room-drop", false).await;
    waiting_events.inc();
    dropping_events.inc();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Each collection is ~60 samples: 25 of them during the outage are far beyond 200.
    p.stop();
    waiting_events.inc();
    dropping_events.inc();
    tokio::time::sleep(Duration::from_secs(5)).await;
    p.restart().await.unwrap();
    waiting_events.inc();
    dropping_events.inc();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let waited = waiting.finish().await.unwrap().stats.unwrap();
    let dropped = dropping.finish().await.unwrap().stats.unwrap();
    assert!(
        dropped.dropped_queue_full > 0,
        "without waiting the outage must overflow the queue, or this test shows nothing: {dropped:?}"
    );
    assert_eq!(waited.dropped(), 0, "{waited:?}");
    let stored = p
        .scalar("max_over_time(rt_events_total{testid=\"room-wait\"}[5m])")
        .await
        .unwrap();
    assert_eq!(stored, Some(3.0), "the last collection arrived");
    // Its own accounting arrived too: the final collection says nothing was dropped.
    let self_dropped = p
        .scalar(
            "sum(max_over_time(redline_remote_write_samples_dropped_total{testid=\"room-wait\"}[5m]))",
        )
        .await
        .unwrap();
    assert_eq!(self_dropped, Some(0.0));
}
