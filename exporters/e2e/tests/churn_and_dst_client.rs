//! dst-client against the in-process Destination server fed by the in-process
//! Kubernetes API server (KWOK mode), with `redline churn` making the changes. dst-client's
//! own behaviour on fixed endpoint sets is tested in exporters/dst-client/tests.

mod common;

use std::time::Duration;

use redline_churn::{ChurnArgs, PatternName};
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::CommonArgs;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{KubeApiServer, KwokConfig};
use tokio_util::sync::CancellationToken;

use common::{all_fanned_out, eventually, oscillate_once};

const NS: &str = "test-load";

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
    oscillate_once(&mut c, Duration::from_millis(1500));
    let report = redline_churn::run_report(
        c,
        kube.client_without_retry().unwrap(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.steps_dispatched, u64::from(services) * 3);
    eventually("every event fanned out", Duration::from_secs(10), || {
        all_fanned_out(&client, services, 3)
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
