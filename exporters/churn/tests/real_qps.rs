//! churn's client-side QPS/burst limit, measured where it matters: by the real API
//! server's own `apiserver_request_total`. Alone in its binary, so the only writes to
//! Services and Deployments counted while it runs are churn's (the controllers write
//! status with UPDATE, never APPLY or DELETE).
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns (under
//! CI=true it fails).

use std::time::{Duration, Instant};

use redline_churn::{ChurnArgs, PatternName};
use redline_runtime::CommonArgs;
use redline_testkit_cluster::{Cluster, RequestCounts, wait_until};
use tokio_util::sync::CancellationToken;

/// churn's writes (server-side apply and delete) and its cleanup's lists, by the server.
fn churn_requests(after: &RequestCounts, before: &RequestCounts) -> f64 {
    let mut n = 0.0;
    for (group, resource) in [("", "services"), ("apps", "deployments")] {
        for verb in ["APPLY", "DELETE"] {
            n += after.since(
                before,
                &[("group", group), ("resource", resource), ("verb", verb)],
            );
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_counts_no_more_than_qps_and_burst_allow() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("churn-qps").await.unwrap();
    let (qps, burst) = (5.0, 5u32);
    let mut a = ChurnArgs::with_common(CommonArgs::default());
    a.namespace = ns.name().into();
    a.pattern = PatternName::Stable;
    a.services = 15;
    a.endpoints_per_service = 1;
    a.duration = Some(Duration::from_secs(1));
    a.run_id = Some("real-qps".into());
    a.qps = qps;
    a.burst = burst;
    let client = cluster.client_without_retry().await.unwrap();

    let before = cluster.apiserver_requests().await.unwrap();
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        redline_churn::run_report(a, client, CancellationToken::new()),
    )
    .await
    .expect("the run ends")
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    // Counted as each request finishes, which may be just after its response is sent.
    let after = wait_until(
        "churn's 60 writes counted",
        Duration::from_secs(10),
        async || {
            let now = cluster.apiserver_requests().await.ok()?;
            (churn_requests(&now, &before) >= 60.0).then_some(now)
        },
    )
    .await
    .unwrap();

    // 15 Services and 15 Deployments applied, then deleted at the end of the run.
    assert_eq!(report.deleted, 30);
    let counted = churn_requests(&after, &before);
    let by_verb = after.by("verb", &[("resource", "deployments"), ("group", "apps")]);
    let rate = counted / elapsed;
    println!(
        "qps {qps} burst {burst}: the API server counted {counted} churn writes in {elapsed:.1} s \
         = {rate:.2} req/s (deployments by verb, whole run: {by_verb:?})"
    );
    assert!(
        counted >= 60.0,
        "every apply and delete reached the server: {counted}"
    );
    // A token bucket lets `burst` through at once and `qps` a second after that; the run
    // also holds for its 1 s duration. More than that is the limiter failing.
    let allowed = f64::from(burst) + qps * elapsed;
    assert!(
        counted <= allowed,
        "{counted} requests in {elapsed:.1} s, the limit allows {allowed:.0}"
    );
    // ... and the limit is what paces the run: it cannot be much faster than
    // (requests - burst) / qps.
    let floor = (counted - f64::from(burst)) / qps;
    assert!(
        elapsed >= floor * 0.95,
        "{counted} requests in {elapsed:.1} s: faster than {qps}/s"
    );
    ns.delete().await.unwrap();
}
