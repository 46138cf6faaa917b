//! Without a disk buffer, a write that finds the queue full is held (--queue-full-wait) and
//! answered 204 once the receiver is back and the queue has room: k6 never retries a 503, so
//! holding is what keeps its samples. Real Prometheus, down for a while mid-run.

use std::time::Duration;

mod common;

/// Write `i`: one sample of each of five series `relay_bp{s="0".."4"}`, value `i`.
fn write(t0: i64, i: i64) -> Vec<u8> {
    common::five_series("relay_bp", t0 + i * 100, i as f64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_full_queue_is_held_until_the_receiver_is_back_and_then_kept() {
    let mut prom = redline_testkit_prometheus::Prometheus::start()
        .await
        .unwrap();
    let mut args = common::args_into(&prom, "backpressure");
    // The held writes' wait is longer than the outage below plus the queue's backoff (at
    // most 5 s) after it: every held write is answered 204; the bound only ends the test if
    // the relay never frees room. The 3 s idle exit outlasts the pause before the held
    // writes; a held write itself keeps the relay up.
    common::small_queue(&mut args, Duration::from_secs(20), Duration::from_secs(60));
    let relay = common::start(args).await;
    let t0 = redline_remote_write::now_millis();
    let pb = "application/x-protobuf";

    prom.stop();
    let first = relay.write(pb, write(t0, 0)).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 204);
    // The shard takes the first batch and gets stuck retrying it; from then on the queue
    // itself fills (the relay's own series fill it too).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let writes = {
        let relay_url = relay.url.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut statuses = Vec::new();
            for i in 1..8 {
                let r = http
                    .post(&relay_url)
                    .header("Content-Type", pb)
                    .header("Content-Encoding", "snappy")
                    .body(write(t0, i))
                    .send()
                    .await
                    .unwrap();
                statuses.push(r.status().as_u16());
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !writes.is_finished(),
        "35 samples went into a queue of 20 with the receiver down: some write must be held"
    );
    prom.restart().await.unwrap();
    let statuses = tokio::time::timeout(Duration::from_secs(90), writes)
        .await
        .expect("held writes are answered once the queue has room")
        .unwrap();
    assert_eq!(statuses, [204; 7], "every held write was kept");
    relay.ends_when_idle().await;
    assert_eq!(redline_runtime::samples_lost(), 0);

    let stored = prom
        .scalar("sum(count_over_time(relay_bp{testid=\"backpressure\"}[5m]))")
        .await
        .unwrap();
    assert_eq!(stored, Some(40.0), "8 writes of 5 series, each sample once");
    let unavailable = prom
        .scalar("max_over_time(redline_relay_requests_total{testid=\"backpressure\",result=\"unavailable\"}[5m])")
        .await
        .unwrap();
    assert_eq!(unavailable, Some(0.0));
}
