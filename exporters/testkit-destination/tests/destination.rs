//! The Destination server driven through the real tonic client, fed by the test kube
//! server's KWOK controllers, with churn applied through the real kube client.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use linkerd2_proxy_api::destination::destination_client::DestinationClient;
use linkerd2_proxy_api::destination::{GetDestination, Update, update};
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{KubeApiServer, KwokConfig};
use serde_json::json;
use tonic::Streaming;
use tonic::transport::Channel;

const NS: &str = "test-load";
const PATH: &str = "svc-a.test-load.svc.cluster.local:80";

async fn cluster(replicas: i32) -> (KubeApiServer, Api<Deployment>) {
    let kube = KubeApiServer::builder()
        .kwok(KwokConfig::default().pod_ready_delay(Duration::from_millis(100)))
        .start()
        .await
        .unwrap();
    let client = kube.client().unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "svc-a"},
        "spec": {"selector": {"app": "svc-a"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client, NS);
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "svc-a"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "svc-a"}},
                 "template": {"metadata": {"labels": {"app": "svc-a"}},
                              "spec": {"containers": [{"name": "app", "image": "fake"}]}}},
    }))
    .unwrap();
    deploys
        .patch("svc-a", &PatchParams::apply("churn"), &Patch::Apply(d))
        .await
        .unwrap();
    (kube, deploys)
}

async fn scale(deploys: &Api<Deployment>, n: i32) {
    deploys
        .patch(
            "svc-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": n}})),
        )
        .await
        .unwrap();
}

async fn get(
    client: &mut DestinationClient<Channel>,
    path: &str,
    token: &str,
) -> Streaming<Update> {
    client
        .get(GetDestination {
            scheme: "k8s".into(),
            path: path.into(),
            context_token: token.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The client's view: the address set, and the last no_endpoints seen.
#[derive(Debug, Default)]
struct View {
    addrs: BTreeSet<SocketAddr>,
    no_endpoints: Option<bool>,
    messages: Vec<String>,
}

impl View {
    fn apply(&mut self, u: Update) {
        match u.update.unwrap() {
            update::Update::Add(set) => {
                assert_eq!(set.metric_labels["service"], "svc-a");
                for a in set.addrs {
                    assert_eq!(a.weight, 10_000);
                    self.addrs.insert(a.addr.unwrap().try_into().unwrap());
                }
                self.no_endpoints = None;
                self.messages.push(format!("add {}", self.addrs.len()));
            }
            update::Update::Remove(set) => {
                for a in set.addrs {
                    let a: SocketAddr = a.try_into().unwrap();
                    assert!(self.addrs.remove(&a), "removed an unknown address {a}");
                }
                self.messages.push(format!("remove {}", self.addrs.len()));
            }
            update::Update::NoEndpoints(n) => {
                self.addrs.clear();
                self.no_endpoints = Some(n.exists);
                self.messages.push(format!("none {}", n.exists));
            }
        }
    }

    /// Reads until `done` holds; bounded in time.
    async fn until(&mut self, s: &mut Streaming<Update>, done: impl Fn(&View) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(self) {
            let msg = tokio::time::timeout_at(deadline, s.message())
                .await
                .unwrap_or_else(|_| panic!("timed out; view so far {self:?}"))
                .unwrap()
                .unwrap();
            self.apply(msg);
        }
    }
}

#[tokio::test]
async fn initial_set_then_deltas_then_no_endpoints() {
    let (kube, deploys) = cluster(2).await;
    let dst = DestinationServer::start(&kube).await.unwrap();
    // Wait for both pods to be in the slice before connecting, so the first message is
    // the full set.
    assert!(
        kube.wait_for(Duration::from_secs(10), |k| {
            k.list::<k8s_openapi::api::discovery::v1::EndpointSlice>(Some(NS))
                .iter()
                .map(|s| s.endpoints.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
                == 2
        })
        .await
    );
    let mut client = DestinationClient::connect(dst.url()).await.unwrap();
    let token = r#"{"ns":"test-load","nodeName":"kwok-node-0","pod":"client-0"}"#;
    let mut s = get(&mut client, PATH, token).await;
    let mut v = View::default();
    v.apply(s.message().await.unwrap().unwrap());
    assert_eq!(v.messages, ["add 2"], "first message is the whole set");
    assert!(
        v.addrs
            .iter()
            .all(|a| a.port() == 8080 && a.ip().to_string().starts_with("10.244."))
    );

    scale(&deploys, 3).await;
    v.until(&mut s, |v| v.addrs.len() == 3).await;
    assert_eq!(
        v.messages,
        ["add 2", "add 3"],
        "a scale-up is one add delta"
    );

    scale(&deploys, 1).await;
    v.until(&mut s, |v| v.addrs.len() == 1).await;
    assert!(v.messages[2..].iter().all(|m| m.starts_with("remove")));

    scale(&deploys, 0).await;
    v.until(&mut s, |v| v.no_endpoints.is_some()).await;
    assert_eq!(
        v.no_endpoints,
        Some(true),
        "removing the last endpoint is no_endpoints{{exists: true}}"
    );

    scale(&deploys, 1).await;
    v.until(&mut s, |v| v.addrs.len() == 1).await;

    let mut unknown = get(&mut client, "nope.test-load.svc.cluster.local:80", "{}").await;
    let mut uv = View::default();
    uv.apply(unknown.message().await.unwrap().unwrap());
    assert_eq!(
        uv.no_endpoints,
        Some(false),
        "an unknown service does not exist"
    );

    assert_eq!(dst.context_tokens(), [token, "{}"]);
    assert_eq!(dst.active_streams(), 2);
    assert_eq!(dst.watched_services(), 2);
    let bad = client
        .get(GetDestination {
            scheme: "k8s".into(),
            path: "example.com:80".into(),
            context_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let profile = client
        .get_profile(GetDestination {
            scheme: "k8s".into(),
            path: PATH.into(),
            context_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(profile.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn killed_streams_end_unavailable_and_clients_can_reconnect() {
    let (kube, _deploys) = cluster(1).await;
    let dst = DestinationServer::start(&kube).await.unwrap();
    let mut client = DestinationClient::connect(dst.url()).await.unwrap();
    let mut s = get(&mut client, PATH, "{}").await;
    let _first = s.message().await.unwrap().unwrap();
    assert_eq!(dst.active_streams(), 1);
    dst.kill_streams();
    let err = tokio::time::timeout(Duration::from_secs(5), s.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        dst.wait_for(Duration::from_secs(5), |d| d.active_streams() == 0)
            .await
    );

    let mut again = get(&mut client, PATH, "{}").await;
    assert!(again.message().await.unwrap().is_some());
    assert_eq!(dst.streams_opened(), 2);
    assert_eq!(dst.active_streams(), 1);
}

#[tokio::test(start_paused = true)]
async fn injected_update_delay_holds_each_update_back() {
    let (kube, deploys) = cluster(1).await;
    let dst = DestinationServer::start(&kube).await.unwrap();
    let mut client = DestinationClient::connect(dst.url()).await.unwrap();
    let mut s = get(&mut client, PATH, "{}").await;
    let mut v = View::default();
    v.until(&mut s, |v| v.addrs.len() == 1).await;
    dst.set_update_delay(Duration::from_secs(2));
    let start = tokio::time::Instant::now();
    scale(&deploys, 2).await;
    v.until(&mut s, |v| v.addrs.len() == 2).await;
    // 100 ms pod readiness (KWOK) + 2 s injected delay.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(2100), "{took:?}");
    assert!(took < Duration::from_millis(2600), "{took:?}");
}

#[tokio::test]
async fn a_thousand_concurrent_streams_share_one_watch() {
    const STREAMS: usize = 1_000;
    let (kube, deploys) = cluster(2).await;
    let dst = DestinationServer::start(&kube).await.unwrap();
    // A few connections, many streams each, as proxies multiplex them.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(DestinationClient::connect(dst.url()).await.unwrap());
    }
    let mut tasks = Vec::with_capacity(STREAMS);
    let (scaled_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(STREAMS);
    for i in 0..STREAMS {
        let mut c = clients[i % clients.len()].clone();
        let ready_tx = ready_tx.clone();
        let mut scaled = scaled_tx.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut s = get(&mut c, PATH, &format!("{{\"pod\":\"client-{i}\"}}")).await;
            let mut v = View::default();
            v.until(&mut s, |v| v.addrs.len() == 2).await;
            ready_tx.send(()).await.unwrap();
            scaled.recv().await.unwrap();
            v.until(&mut s, |v| v.addrs.len() == 3).await;
            v.messages.len()
        }));
    }
    drop(ready_tx);
    for _ in 0..STREAMS {
        tokio::time::timeout(Duration::from_secs(30), ready_rx.recv())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(dst.active_streams(), STREAMS);
    assert_eq!(
        dst.watched_services(),
        1,
        "one shared watch for the service"
    );
    scale(&deploys, 3).await;
    scaled_tx.send(()).unwrap();
    for t in tasks {
        let messages = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap()
            .unwrap();
        assert!(messages >= 2);
    }
    assert!(
        dst.wait_for(Duration::from_secs(5), |d| d.active_streams() == 0)
            .await
    );
    assert_eq!(dst.context_tokens().len(), STREAMS);
}
