//! Kubernetes faults through the real `kube` client against the in-process API server in
//! KWOK mode: deletions, evictions refused (an injected 429, as a budget answers) then allowed,
//! cordon/uncordon, dry runs (NetworkPolicies included), and
//! recovery clocks that match the server's configured readiness and endpoint delays (exact
//! timing under paused time, which a real server cannot give). The same faults against
//! the real control plane, partition included, are in `real_faults.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use redline_chaos::{ChaosArgs, ChaosError, ChaosReport, FaultKind, run_with};
use redline_testkit_kube::{Fault, FaultKind as TestkitFault, KubeApiServer, KwokConfig, Verb};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const NS: &str = "shop";
const OPT_IN: (&str, &str) = ("redline.dev/chaos", "enabled");

fn deployment(name: &str, replicas: i32, opted_in: bool) -> Deployment {
    let mut labels = json!({"app": name});
    if opted_in {
        labels[OPT_IN.0] = json!(OPT_IN.1);
    }
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "fake",
                    "ports": [{"name": "http", "containerPort": 8080}]}]}},
        },
    }))
    .unwrap()
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    .unwrap()
}

async fn deploy(server: &KubeApiServer, name: &str, replicas: i32, opted_in: bool) {
    let client = server.client().unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &deployment(name, replicas, opted_in),
        )
        .await
        .unwrap();
    Api::<Service>::namespaced(client, NS)
        .create(&PostParams::default(), &service(name))
        .await
        .unwrap();
}

fn ready_pods(server: &KubeApiServer, app: &str) -> usize {
    server.ready_app_pods(NS, app)
}

fn uids(server: &KubeApiServer, app: &str) -> BTreeSet<String> {
    server
        .app_pods(NS, app)
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect()
}

async fn settle(server: &KubeApiServer, apps: &[(&str, usize)]) {
    let client = server.client().unwrap();
    for (app, n) in apps {
        assert!(
            server
                .wait_for(Duration::from_secs(60), |s| ready_pods(s, app) == *n)
                .await,
            "{app} never got {n} ready pods"
        );
        let mut ok = false;
        for _ in 0..600 {
            let ready = redline_chaos::faults::recovery::ready_endpoints(
                &client,
                NS,
                app,
                &Default::default(),
            )
            .await
            .unwrap();
            if ready == *n {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ok, "{app} endpoints never reached {n}");
    }
}

/// Runs chaos with `a` against `server`, through a client without kube's retry layer as
/// the daemon builds its own.
fn against(
    server: &KubeApiServer,
    a: ChaosArgs,
) -> impl Future<Output = Result<ChaosReport, ChaosError>> + use<> {
    run_with(
        a,
        Some(server.client_without_retry().unwrap()),
        CancellationToken::new(),
    )
}

fn args(fault: FaultKind) -> ChaosArgs {
    let mut a = ChaosArgs::new(NS, fault);
    a.recovery_poll = Duration::from_millis(50);
    a.recovery_timeout = Duration::from_secs(60);
    a
}

#[tokio::test(start_paused = true)]
async fn pod_kill_clocks_match_the_servers_delays_and_spare_pods_not_opted_in() {
    let ready_delay = Duration::from_secs(2);
    let endpoint_delay = Duration::from_millis(700);
    let server = KubeApiServer::start_kwok_with(
        KwokConfig::default()
            .pod_ready_delay(ready_delay)
            .endpoint_delay(endpoint_delay),
    )
    .await
    .unwrap();
    deploy(&server, "web", 3, true).await;
    deploy(&server, "api", 2, false).await;
    settle(&server, &[("web", 3), ("api", 2)]).await;
    let web_before = uids(&server, "web");
    let api_before = uids(&server, "api");

    let mut a = args(FaultKind::PodKill);
    a.pick = redline_chaos::faults::pod_kill::Pick::All;
    a.grace_period = Some(0);
    let report = against(&server, a).await.unwrap();

    let f = &report.faults[0];
    assert_eq!(report.faults.len(), 1);
    assert_eq!(f.fault, "pod-kill");
    assert_eq!(
        server.request_count(Verb::Delete, "pods"),
        3,
        "every opted-in web pod"
    );
    assert!(
        uids(&server, "web").is_disjoint(&web_before),
        "all web pods replaced"
    );
    assert_eq!(
        uids(&server, "api"),
        api_before,
        "pods without the opt-in label are untouched"
    );
    assert_eq!(ready_pods(&server, "web"), 3);

    let poll = Duration::from_millis(50);
    let workload = f.workload.expect("workload clock");
    assert!(
        workload >= ready_delay && workload <= ready_delay + poll,
        "workload clock {workload:?}, pods become ready {ready_delay:?} after creation"
    );
    let endpoints = f.endpoints.expect("endpoints clock");
    let want = ready_delay + endpoint_delay;
    assert!(
        endpoints >= want && endpoints <= want + poll,
        "endpoints clock {endpoints:?}, expected {want:?}"
    );
    assert!(f.timed_out.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dry_runs_change_nothing() {
    let server = KubeApiServer::builder()
        .kwok(KwokConfig::default().nodes(2))
        .start()
        .await
        .unwrap();
    deploy(&server, "web", 2, true).await;
    settle(&server, &[("web", 2)]).await;
    label_node(&server, "kwok-node-0").await;
    label_node(&server, "kwok-node-1").await;
    let before = uids(&server, "web");
    let writes = [
        (Verb::Delete, "pods"),
        (Verb::Create, "pods/eviction"),
        (Verb::Patch, "nodes"),
        (Verb::Create, "networkpolicies"),
        (Verb::Delete, "networkpolicies"),
    ];
    let counts = |s: &KubeApiServer| writes.map(|(v, r)| s.request_count(v, r));
    let writes_before = counts(&server);
    for fault in [
        FaultKind::PodKill,
        FaultKind::NodeDrain,
        FaultKind::Partition,
    ] {
        let mut a = args(fault);
        a.dry_run = true;
        a.partition_a = Some("app=web".parse().unwrap());
        a.partition_b = Some("app=db".parse().unwrap());
        let report = against(&server, a).await.unwrap();
        let f = &report.faults[0];
        assert!(
            f.dry_run && !f.actions.is_empty(),
            "{fault:?}: {:?}",
            f.actions
        );
    }
    assert_eq!(
        counts(&server),
        writes_before,
        "writes ({writes:?}) in a dry run"
    );
    assert_eq!(writes_before[2], 2, "only the test's own node labels");
    assert_eq!(uids(&server, "web"), before);
}

async fn label_node(server: &KubeApiServer, node: &str) {
    Api::<Node>::all(server.client().unwrap())
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {OPT_IN.0: OPT_IN.1}}})),
        )
        .await
        .unwrap();
}

fn cordoned(server: &KubeApiServer, node: &str) -> bool {
    server
        .get::<Node>("", node)
        .and_then(|n| n.spec)
        .and_then(|s| s.unschedulable)
        == Some(true)
}

#[tokio::test(start_paused = true)]
async fn drain_retries_refused_evictions_reschedules_and_uncordons() {
    let server = KubeApiServer::start_kwok_with(
        KwokConfig::default()
            .nodes(2)
            .pod_ready_delay(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    label_node(&server, "kwok-node-0").await;
    deploy(&server, "web", 2, true).await;
    settle(&server, &[("web", 2)]).await;
    let on_node0: Vec<String> = server
        .list::<Pod>(Some(NS))
        .into_iter()
        .filter(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("kwok-node-0"))
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert!(!on_node0.is_empty(), "round-robin put a pod on node 0");
    // A budget refusing the first two rounds of evictions: the 429 a PodDisruptionBudget
    // answers (the real budget is in real_faults.rs), here on a schedule paused time can
    // hold the drain's backoff to.
    server.inject(
        Fault::new(
            TestkitFault::TooManyRequests {
                retry_after_secs: 0,
            },
            2 * on_node0.len() as u32,
        )
        .verb(Verb::Create)
        .resource("pods/eviction"),
    );
    let mut a = args(FaultKind::NodeDrain);
    a.node = Some("kwok-node-0".into());
    a.hold = Duration::from_secs(10);
    a.evict_backoff = Duration::from_secs(1);
    let run = tokio::spawn(against(&server, a));
    assert!(
        server
            .wait_for(Duration::from_secs(5), |s| cordoned(s, "kwok-node-0"))
            .await,
        "node cordoned"
    );
    let report = run.await.unwrap().unwrap();
    let f = &report.faults[0];
    assert_eq!(f.target, "kwok-node-0");
    // Attempts at 0 s and 1 s are refused, the one at 3 s goes through.
    assert_eq!(f.evictions_refused, 2 * on_node0.len() as u64, "{f:?}");
    assert!(f.not_evicted.is_empty());
    assert_eq!(
        server.request_count(Verb::Create, "pods/eviction"),
        3 * on_node0.len() as u64
    );
    for p in &on_node0 {
        assert!(server.get::<Pod>(NS, p).is_none(), "{p} evicted");
    }
    assert!(
        !cordoned(&server, "kwok-node-0"),
        "uncordoned after the hold"
    );
    assert_eq!(ready_pods(&server, "web"), 2);
    assert!(
        server
            .list::<Pod>(Some(NS))
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("kwok-node-1")),
        "replacements avoided the cordoned node"
    );
    // Evicted at 3 s, ready 1 s later.
    let workload = f.workload.unwrap();
    assert!(
        workload >= Duration::from_secs(4) && workload <= Duration::from_millis(4050),
        "{workload:?}"
    );

    // A node without the opt-in label is refused.
    let mut a = args(FaultKind::NodeDrain);
    a.node = Some("kwok-node-1".into());
    let err = against(&server, a).await.unwrap_err();
    assert!(err.to_string().contains("opt-in"), "{err}");
    assert!(!cordoned(&server, "kwok-node-1"));
}
