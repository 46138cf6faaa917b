//! dst-client against the in-process Destination server, which serves the EndpointSlices of
//! the in-process Kubernetes API. The endpoint sets are written straight into that API's
//! store, so these tests exercise dst-client alone; with `redline churn` making the changes
//! they are in exporters/e2e.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ObjectReference, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::CommonArgs;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::KubeApiServer;
use tokio_util::sync::CancellationToken;

const NS: &str = "test-load";
const PORT: u16 = 8080;
const WAIT: Duration = Duration::from_secs(10);

fn service_name(i: u32) -> String {
    format!("test-service-{i}")
}

/// Services `test-service-1..=services`, each with `ready` ready endpoints on port 8080, as
/// the Kubernetes endpoints controller would publish them.
fn publish(kube: &KubeApiServer, services: u32, ready: u32) {
    for i in 1..=services {
        let name = service_name(i);
        let meta = |labels: BTreeMap<String, String>| ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(NS.into()),
            labels: Some(labels),
            ..Default::default()
        };
        kube.insert(&Service {
            metadata: meta(BTreeMap::new()),
            spec: Some(ServiceSpec {
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: i32::from(PORT),
                    target_port: Some(IntOrString::Int(i32::from(PORT))),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let endpoints: Vec<Endpoint> = (1..=ready)
            .map(|e| Endpoint {
                addresses: vec![format!("10.{i}.0.{e}")],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    ..Default::default()
                }),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(format!("{name}-{e}")),
                    namespace: Some(NS.into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        kube.insert(&EndpointSlice {
            metadata: meta(BTreeMap::from([(
                "kubernetes.io/service-name".to_string(),
                name.clone(),
            )])),
            address_type: "IPv4".into(),
            endpoints: Some(endpoints),
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: Some(i32::from(PORT)),
                ..Default::default()
            }]),
        })
        .unwrap();
    }
}

/// Removes what [`publish`] wrote, as deleting the Services does.
fn unpublish(kube: &KubeApiServer, services: u32) {
    for i in 1..=services {
        kube.delete::<EndpointSlice>(NS, &service_name(i)).unwrap();
        kube.delete::<Service>(NS, &service_name(i)).unwrap();
    }
}

/// `streams` streams to each of `targets` (the `--services` syntax) through `destination`.
fn args(destination: &str, targets: &str, streams: u32) -> DstClientArgs {
    let mut a = DstClientArgs::new(CommonArgs::default(), destination, targets);
    a.streams_per_service = streams;
    a
}

/// `test-service-1..=services`, the services [`publish`] writes, by their Destination name.
fn targets(services: u32) -> String {
    format!("test-service-{{1..{services}}}.{NS}.svc.cluster.local:{PORT}")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn client_args(dst: &DestinationServer, services: u32, streams: u32) -> DstClientArgs {
    let mut a = args(&dst.url(), &targets(services), streams);
    a.backoff_min = Duration::from_millis(50);
    a.backoff_max = Duration::from_millis(500);
    a
}

fn observed(m: &Metrics, svc: &str) -> i64 {
    m.endpoints_observed
        .get_or_create(&Metrics::service(svc))
        .get()
}

/// Starts a client of `a` with metrics of its own, returned too.
async fn start(a: &DstClientArgs) -> (DstClient, Metrics) {
    let client = DstClient::start(a, Metrics::default(), None).await.unwrap();
    let m = client.metrics().clone();
    (client, m)
}

/// Waits until every stream of `client` to `test-service-1..=services` has seen a set of
/// `n` endpoints.
async fn sets_of(dst: &DestinationServer, client: &DstClient, services: u32, n: i64) {
    let m = client.metrics();
    assert!(
        dst.wait_for(WAIT, |_| {
            client.sweep();
            (1..=services).all(|i| observed(m, &service_name(i)) == n)
        })
        .await,
        "sets of {n}"
    );
}

/// An imitation API server with `services` Services of `ready` endpoints each
/// published, and a destination controller serving from it.
async fn servers(services: u32, ready: u32) -> (KubeApiServer, DestinationServer) {
    let kube = KubeApiServer::start().await.unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    publish(&kube, services, ready);
    (kube, dst)
}

#[tokio::test]
async fn streams_track_endpoint_sets_and_send_the_downward_api_token() {
    let (kube, dst) = servers(2, 3).await;
    let mut a = client_args(&dst, 2, 3);
    a.pod_namespace = "clients".into();
    a.pod_name = "client-7".into();
    a.node_name = "node-3".into();
    let (client, m) = start(&a).await;
    assert!(
        dst.wait_for(WAIT, |d| d.active_streams() == 6).await,
        "6 streams"
    );
    sets_of(&dst, &client, 2, 3).await;
    assert_eq!(m.streams_active.get(), 6);
    assert_eq!(
        m.streams_requested.get(),
        6,
        "services x streams per service"
    );
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
    // The services go away: every stream sees its set emptied.
    unpublish(&kube, 2);
    sets_of(&dst, &client, 2, 0).await;
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

#[tokio::test]
async fn killed_streams_are_reset_counted_and_reopened() {
    let (_kube, dst) = servers(2, 2).await;
    let (client, m) = start(&client_args(&dst, 2, 5)).await;
    assert!(
        dst.wait_for(WAIT, |d| d.active_streams() == 10).await,
        "10 streams"
    );
    dst.kill_streams();
    assert!(
        dst.wait_for(WAIT, |d| {
            m.streams_created.get() == 20
                && d.active_streams() == 10
                && m.streams_active.get() == 10
        })
        .await,
        "reopened"
    );
    assert_eq!(m.streams_reset.get(), 10);
    assert_eq!(m.errors("unavailable"), 10);
    assert_eq!(m.send_timeouts.get(), 0);
    assert_eq!(m.stream_lifetime.count(), 10);
    // The reopened streams start from the full set again.
    sets_of(&dst, &client, 2, 2).await;
    assert_eq!(dst.streams_opened(), 20);
    client.shutdown().await;
}

#[tokio::test]
async fn max_lifetime_and_reset_interval_reopen_streams_on_schedule() {
    let (_kube, dst) = servers(1, 1).await;
    let mut a = client_args(&dst, 1, 4);
    a.stream_max_lifetime = Some(Duration::from_millis(300));
    let (client, m) = start(&a).await;
    // Two generations ended and the third is open: shutting down now ends those 4 early.
    assert!(
        dst.wait_for(WAIT, |_| {
            m.stream_lifetime.count() >= 8 && m.streams_active.get() == 4
        })
        .await,
        "3 generations"
    );
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
    let (client, m) = start(&a).await;
    assert!(
        dst.wait_for(WAIT, |_| m.streams_created.get() >= 12).await,
        "2 resets of all"
    );
    client.shutdown().await;
    assert_eq!(m.streams_reset.get(), 0);
    // All streams reset together: created comes in multiples of 4.
    assert_eq!(m.streams_created.get() % 4, 0);
}

#[tokio::test]
async fn unreachable_destination_backs_off_and_counts_connect_errors() {
    let mut a = args(
        &format!("127.0.0.1:{}", closed_port()),
        "s.test-load.svc.cluster.local:8080",
        2,
    );
    a.backoff_min = Duration::from_millis(100);
    a.backoff_max = Duration::from_millis(400);
    let (client, m) = start(&a).await;
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
async fn a_refused_get_is_counted_by_its_grpc_status() {
    // The server answers with a status alone (a trailers-only response): a port that
    // does not parse is INVALID_ARGUMENT.
    let (_kube, dst) = servers(0, 0).await;
    let mut a = args(&dst.url(), "s.test-load.svc.cluster.local:99999", 2);
    a.backoff_min = Duration::from_millis(50);
    a.backoff_max = Duration::from_millis(100);
    let (client, m) = start(&a).await;
    assert!(
        dst.wait_for(WAIT, |_| m.errors("invalid_argument") >= 4)
            .await,
        "refusals counted: {} attempts",
        m.streams_created.get()
    );
    client.shutdown().await;
    // Every attempt but one per slot cut short by the shutdown was refused so.
    let (refused, attempts) = (m.errors("invalid_argument"), m.streams_created.get());
    assert!(refused + 2 >= attempts, "{refused} of {attempts}");
    assert_eq!(
        m.errors("unknown") + m.errors("internal") + m.errors("connect"),
        0
    );
    assert_eq!(m.streams_active.get(), 0);
    assert_eq!(m.streams_reset.get(), 0, "never opened, so never reset");
}

#[tokio::test]
async fn the_daemon_runs_under_the_runtime_until_its_duration() {
    let (kube, dst) = servers(1, 2).await;
    let mut a = client_args(&dst, 1, 3);
    a.duration = Some(Duration::from_millis(700));
    let run = tokio::spawn(redline_dst_client::run_with(
        a,
        Some(kube.client().unwrap()),
        CancellationToken::new(),
    ));
    assert!(
        dst.wait_for(WAIT, |d| d.active_streams() == 3).await,
        "3 streams"
    );
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        dst.wait_for(Duration::from_secs(5), |d| d.active_streams() == 0)
            .await,
        "streams closed"
    );
}

/// `--verify-endpoints` agrees when every stream holds the API's ready endpoints, and names
/// every stream (missing addresses, not connected) when the controller cannot be reached.
#[tokio::test]
async fn verify_endpoints_compares_every_stream_with_the_endpointslices() {
    let (kube, dst) = servers(2, 3).await;
    let mut a = client_args(&dst, 2, 3);
    a.verify_endpoints = true;
    let (client, _) = start(&a).await;
    let api = kube.client().unwrap();
    let r = client.verify_endpoints(&api, WAIT).await.unwrap();
    assert_eq!((r.streams, r.api_endpoints), (6, 6));
    assert!(r.mismatches.is_empty(), "{:?}", r.mismatches);
    client.shutdown().await;

    // Nothing listens on the destination address: every stream is behind the API.
    let mut a = args(&format!("127.0.0.1:{}", closed_port()), &targets(2), 2);
    a.verify_endpoints = true;
    let (client, _) = start(&a).await;
    let r = client
        .verify_endpoints(&api, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(r.mismatches.len(), 4, "{:?}", r.mismatches);
    assert!(
        r.mismatches
            .iter()
            .all(|m| !m.connected && m.missing.len() == 3 && m.extra.is_empty()),
        "{:?}",
        r.mismatches
    );
    client.shutdown().await;

    // Without --verify-endpoints there is nothing to compare: a clear error.
    let a = client_args(&dst, 1, 1);
    let (client, _) = start(&a).await;
    let e = client.verify_endpoints(&api, WAIT).await.unwrap_err();
    assert!(e.to_string().contains("--verify-endpoints"), "{e}");
    client.shutdown().await;
}

/// A run without errors still exposes its error counters, at 0: the alert rules judge
/// "no connection errors" from a 0, and a missing series would leave Scenario 1 unjudged.
#[tokio::test]
async fn error_counters_are_exposed_at_zero_before_any_error() {
    let (_kube, dst) = servers(2, 2).await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::register(&mut registry);
    let client = DstClient::start(&client_args(&dst, 2, 2), metrics, None)
        .await
        .unwrap();
    sets_of(&dst, &client, 2, 2).await;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for series in [
        "destination_client_connection_errors_total{reason=\"connect\"} 0",
        "destination_client_connection_errors_total{reason=\"unavailable\"} 0",
        "destination_client_connection_errors_total{reason=\"send_timeout\"} 0",
        "destination_client_events_unobserved_total{service=\"test-service-1\"} 0",
        "destination_client_events_unobserved_total{service=\"test-service-2\"} 0",
        "destination_client_streams_reset_total 0",
        "destination_client_send_timeouts_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == series),
            "{series} missing from:\n{text}"
        );
    }
    client.shutdown().await;
}
