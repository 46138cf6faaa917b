//! 10,000 concurrent Get streams in one process against the test server. Its own test
//! binary, so the RSS it reports is not mixed with other tests' allocations.

use std::time::{Duration, Instant};

use redline_churn::{ChurnArgs, PatternName};
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::CommonArgs;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{KubeApiServer, KwokConfig};
use tokio_util::sync::CancellationToken;

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_streams_in_one_process() {
    let (services, per_service, replicas) = (100u32, 100u32, 3u32);
    let kube = KubeApiServer::builder()
        .kwok(KwokConfig::default().nodes(10))
        .start()
        .await
        .unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let mut c = ChurnArgs::with_common(CommonArgs::default());
    c.namespace = "test-load".into();
    c.create_namespace = true;
    c.pattern = PatternName::Stable;
    c.services = services;
    c.endpoints_per_service = replicas;
    c.qps = 10_000.0;
    c.burst = 10_000;
    c.run_id = Some("tenk".into());
    let stop = CancellationToken::new();
    let churn = tokio::spawn(redline_churn::run_report(
        c,
        kube.client_without_retry().unwrap(),
        stop.clone(),
    ));

    let before = rss_bytes();
    let started = Instant::now();
    let mut a = DstClientArgs::new(
        CommonArgs::default(),
        &dst.url(),
        &format!("test-service-{{1..{services}}}.test-load.svc.cluster.local:8080"),
    );
    a.streams_per_service = per_service;
    let client = DstClient::start(&a, Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    let total = (services * per_service) as usize;
    let deadline = Instant::now() + Duration::from_secs(50);
    loop {
        client.sweep();
        let all_full = (1..=services).all(|i| {
            m.endpoints_observed
                .get_or_create(&Metrics::service(&format!("test-service-{i}")))
                .get()
                == i64::from(replicas)
        });
        if dst.active_streams() == total && m.streams_active.get() == total as i64 && all_full {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 50 s: server {} streams, client {} active, errors {}",
            dst.active_streams(),
            m.streams_active.get(),
            m.errors("unavailable")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    let after = rss_bytes();
    let per_stream = after.saturating_sub(before) as f64 / total as f64;
    println!(
        "{total} streams open and converged in {took:?}; RSS {} MiB -> {} MiB: {per_stream:.0} bytes per stream (client and test server together)",
        before >> 20,
        after >> 20
    );
    assert_eq!(
        m.streams_created.get(),
        total as u64,
        "no stream needed a retry"
    );
    assert_eq!(m.streams_reset.get(), 0);
    client.shutdown().await;
    stop.cancel();
    churn.await.unwrap().unwrap();
}
