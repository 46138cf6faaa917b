//! dst-client against the in-process Destination server fed by the in-process
//! Kubernetes API server (KWOK mode), with `redline churn` making the changes.

use std::time::Duration;

use redline_churn::{ChurnArgs, PatternName};
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::CommonArgs;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{KubeApiServer, KwokConfig};
use tokio_util::sync::CancellationToken;

const NS: &str = "test-load";

async fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn churn_args(pattern: PatternName, services: u32) -> ChurnArgs {
    let mut a = ChurnArgs::with_common(CommonArgs::default());
    a.namespace = NS.into();
    a.create_namespace = true;
    a.pattern = pattern;
    a.services = services;
    a.run_id = Some("e2e".into());
    a.qps = 1000.0;
    a.burst = 1000;
    a
}

fn client_args(dst: &DestinationServer, services: u32, streams: u32) -> DstClientArgs {
    let mut a = DstClientArgs::new(
        CommonArgs::default(),
        &dst.url(),
        &format!("test-service-{{1..{services}}}.{NS}.svc.cluster.local:8080"),
    );
    a.streams_per_service = streams;
    a.backoff_min = Duration::from_millis(50);
    a.backoff_max = Duration::from_millis(500);
    a
}

/// Starts stable churn (`replicas` per service) and waits until every service has them.
async fn stable(
    kube: &KubeApiServer,
    services: u32,
    replicas: u32,
) -> (tokio::task::JoinHandle<()>, CancellationToken) {
    let mut a = churn_args(PatternName::Stable, services);
    a.endpoints_per_service = replicas;
    let stop = CancellationToken::new();
    let client = kube.client_without_retry().unwrap();
    let s = stop.clone();
    let h = tokio::spawn(async move {
        redline_churn::run_report(a, client, s).await.unwrap();
    });
    let want = (services * replicas) as usize;
    assert!(
        kube.wait_for(Duration::from_secs(10), |k| {
            k.list::<k8s_openapi::api::discovery::v1::EndpointSlice>(Some(NS))
                .iter()
                .map(|s| {
                    serde_json::to_value(s).unwrap()["endpoints"]
                        .as_array()
                        .map_or(0, Vec::len)
                })
                .sum::<usize>()
                == want
        })
        .await,
        "{want} endpoints published"
    );
    (h, stop)
}

fn observed(m: &Metrics, svc: &str) -> i64 {
    m.endpoints_observed
        .get_or_create(&Metrics::service(svc))
        .get()
}

#[tokio::test]
async fn streams_track_endpoint_sets_and_send_the_downward_api_token() {
    let kube = KubeApiServer::builder()
        .kwok(KwokConfig::default())
        .start()
        .await
        .unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let (churn, stop) = stable(&kube, 2, 3).await;
    let mut a = client_args(&dst, 2, 3);
    a.pod_namespace = "clients".into();
    a.pod_name = "client-7".into();
    a.node_name = "node-3".into();
    let client = DstClient::start(&a, Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    eventually("6 streams", Duration::from_secs(10), || {
        dst.active_streams() == 6
    })
    .await;
    eventually("sets of 3", Duration::from_secs(10), || {
        client.sweep();
        observed(&m, "test-service-1") == 3 && observed(&m, "test-service-2") == 3
    })
    .await;
    assert_eq!(m.streams_active.get(), 6);
    assert_eq!(m.streams_created.get(), 6);
    assert_eq!(m.connection_duration.count(), 6);
    let tokens = dst.context_tokens();
    assert_eq!(tokens.len(), 6);
    for t in tokens {
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ns": "clients", "nodeName": "node-3", "pod": "client-7"})
        );
    }
    // The run's own cleanup removes the services: every stream sees its set emptied.
    stop.cancel();
    churn.await.unwrap();
    eventually("sets emptied", Duration::from_secs(10), || {
        client.sweep();
        observed(&m, "test-service-1") == 0 && observed(&m, "test-service-2") == 0
    })
    .await;
    assert!(
        m.updates_received
            .get_or_create(&Metrics::service("test-service-1"))
            .get()
            >= 6
    );
    client.shutdown().await;
    assert_eq!(m.streams_active.get(), 0);
    assert_eq!(
        m.streams_reset.get(),
        0,
        "client-side shutdown is not a reset"
    );
}

/// The propagation delay the KWOK endpoints controller injects is what dst-client
/// measures from churn's stamps to every stream converging.
#[tokio::test]
async fn churn_and_dst_client_measure_the_injected_propagation_delay() {
    let delay = Duration::from_millis(800);
    let kube = KubeApiServer::builder()
        .kwok(KwokConfig::default().endpoint_delay(delay))
        .start()
        .await
        .unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let (services, slots) = (2u32, 4u32);
    let a = client_args(&dst, services, slots);
    let client = DstClient::start(&a, Metrics::default(), Some(kube.client().unwrap()))
        .await
        .unwrap();
    let m = client.metrics().clone();
    eventually("streams open", Duration::from_secs(10), || {
        m.streams_active.get() == i64::from(services * slots)
    })
    .await;

    // Create at 2, up to 6 at 1.5 s, down to 2 at 3 s, end at 4.5 s.
    let mut c = churn_args(PatternName::Oscillate, services);
    c.min_endpoints = 2;
    c.max_endpoints = 6;
    c.min_hold = Duration::from_millis(1500);
    c.max_hold = Duration::from_millis(1500);
    c.cycles = Some(1);
    c.keep = true;
    let report = redline_churn::run_report(
        c,
        kube.client_without_retry().unwrap(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.steps_dispatched, u64::from(services) * 3);
    eventually("every event fanned out", Duration::from_secs(10), || {
        client.pending_events().iter().all(|(_, n)| *n == 0)
            && (1..=services).all(|i| {
                m.fanout_completion
                    .get_or_create(&Metrics::service(&format!("test-service-{i}")))
                    .count()
                    == 3
            })
    })
    .await;
    for i in 1..=services {
        let s = Metrics::service(&format!("test-service-{i}"));
        let upd = m.update_latency.get_or_create(&s).clone();
        // 3 events (create, up, down) x every stream.
        assert_eq!(upd.count(), 3 * u64::from(slots), "test-service-{i}");
        // Nothing faster than the injected delay; nothing much slower.
        assert_eq!(upd.count_le(0.75), 0, "below the 800 ms delay");
        assert_eq!(upd.count_le(1.5), upd.count(), "above 1.5 s");
        let mean = upd.sum() / upd.count() as f64;
        assert!((0.8..1.3).contains(&mean), "mean {mean}");
        let ep = m.endpoint_latency.get_or_create(&s).clone();
        // Per stream: 2 added at creation, 4 added, 4 removed.
        assert_eq!(ep.count(), u64::from(slots) * (2 + 4 + 4));
        assert_eq!(ep.count_le(0.75), 0);
        let fan = m.fanout_completion.get_or_create(&s).clone();
        // Fan-out bounds are ..0.5, 1, 2..: every event reached its last stream in 0.8-1 s.
        assert_eq!(fan.count_le(0.5), 0);
        assert_eq!(fan.count_le(2.0), 3);
        assert!(fan.sum() / 3.0 >= 0.8, "fan-out mean {}", fan.sum() / 3.0);
    }
    assert_eq!(m.streams_reset.get(), 0);
    client.shutdown().await;
}

#[tokio::test]
async fn killed_streams_are_reset_counted_and_reopened() {
    let kube = KubeApiServer::start_kwok().await.unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let (_churn, stop) = stable(&kube, 2, 2).await;
    let client = DstClient::start(&client_args(&dst, 2, 5), Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    eventually("10 streams", Duration::from_secs(10), || {
        dst.active_streams() == 10
    })
    .await;
    dst.kill_streams();
    eventually("reopened", Duration::from_secs(10), || {
        m.streams_created.get() == 20 && dst.active_streams() == 10 && m.streams_active.get() == 10
    })
    .await;
    assert_eq!(m.streams_reset.get(), 10);
    assert_eq!(m.errors("unavailable"), 10);
    assert_eq!(m.send_timeouts.get(), 0);
    assert_eq!(m.stream_lifetime.count(), 10);
    // The reopened streams start from the full set again.
    eventually("sets of 2", Duration::from_secs(10), || {
        client.sweep();
        observed(&m, "test-service-1") == 2 && observed(&m, "test-service-2") == 2
    })
    .await;
    assert_eq!(dst.streams_opened(), 20);
    client.shutdown().await;
    stop.cancel();
}

#[tokio::test]
async fn max_lifetime_and_reset_interval_reopen_streams_on_schedule() {
    let kube = KubeApiServer::start_kwok().await.unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let (_churn, stop) = stable(&kube, 1, 1).await;

    let mut a = client_args(&dst, 1, 4);
    a.stream_max_lifetime = Some(Duration::from_millis(300));
    let client = DstClient::start(&a, Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    eventually("3 generations", Duration::from_secs(10), || {
        m.stream_lifetime.count() >= 8
    })
    .await;
    client.shutdown().await;
    assert_eq!(
        m.streams_reset.get(),
        0,
        "the client's own schedule is not a reset"
    );
    assert_eq!(m.errors("unavailable"), 0);
    // Every scheduled end came at ~300 ms (bucket bounds 0.1 and 1 s).
    let ended = m.stream_lifetime.count();
    assert!(ended >= 8 + 4, "{ended}");
    assert_eq!(
        m.stream_lifetime.count_le(0.1),
        4,
        "only the 4 shut down early"
    );
    assert_eq!(m.stream_lifetime.count_le(1.0), ended);
    assert!(m.streams_created.get() >= 12);

    let mut a = client_args(&dst, 1, 4);
    a.stream_reset_interval = Some(Duration::from_millis(400));
    let client = DstClient::start(&a, Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    eventually("2 resets of all", Duration::from_secs(10), || {
        m.streams_created.get() >= 12
    })
    .await;
    client.shutdown().await;
    assert_eq!(m.streams_reset.get(), 0);
    // All streams reset together: created comes in multiples of 4.
    assert_eq!(m.streams_created.get() % 4, 0);
    stop.cancel();
}

#[tokio::test]
async fn unreachable_destination_backs_off_and_counts_connect_errors() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut a = DstClientArgs::new(
        CommonArgs::default(),
        &format!("127.0.0.1:{port}"),
        "s.test-load.svc.cluster.local:8080",
    );
    a.streams_per_service = 2;
    a.backoff_min = Duration::from_millis(100);
    a.backoff_max = Duration::from_millis(400);
    let client = DstClient::start(&a, Metrics::default(), None)
        .await
        .unwrap();
    let m = client.metrics().clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.shutdown().await;
    let attempts = m.streams_created.get();
    // Backoff 50-100 ms, then 100-200, 200-400, then <= 400 ms: a handful per slot in
    // 1.5 s, not a busy loop.
    assert!((6..=24).contains(&attempts), "{attempts} attempts");
    assert_eq!(
        m.errors("connect"),
        attempts,
        "every attempt failed to connect"
    );
    assert_eq!(m.streams_active.get(), 0);
    assert_eq!(m.connection_duration.count(), 0);
}

#[tokio::test]
async fn the_daemon_runs_under_the_runtime_until_its_duration() {
    let kube = KubeApiServer::start_kwok().await.unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let (_churn, stop) = stable(&kube, 1, 2).await;
    let mut a = client_args(&dst, 1, 3);
    a.duration = Some(Duration::from_millis(700));
    let run = tokio::spawn(redline_dst_client::run_with(
        a,
        Some(kube.client().unwrap()),
        CancellationToken::new(),
    ));
    eventually("3 streams", Duration::from_secs(10), || {
        dst.active_streams() == 3
    })
    .await;
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    eventually("streams closed", Duration::from_secs(5), || {
        dst.active_streams() == 0
    })
    .await;
    stop.cancel();
}
