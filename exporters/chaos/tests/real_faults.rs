//! chaos's Kubernetes faults against the real control plane of hack/cluster: pod-kill
//! answered by the real ReplicaSet and EndpointSlice controllers (recovery clocks
//! checked against the server's own timestamps; its selector, role pick and opt-in
//! narrowing the victims), node-drain through the real Eviction
//! API with a PodDisruptionBudget the disruption controller first holds shut (429) and
//! then opens, the cordon visible on the Node, and partition's NetworkPolicies created
//! and removed (nothing enforces them here: there is no CNI; see the README).
//!
//! The client is built without kube's default retry layer, as `redline chaos` builds
//! its own: with it, the PDB's 429 is retried underneath the drain, which then neither
//! counts the refusals nor backs off on its own schedule.
//!
//! Without REDLINE_TEST_KUBECONFIG every test prints one loud line and returns (under
//! CI=true it fails).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use redline_chaos::selector::Selector;
use redline_chaos::{ChaosArgs, FaultKind, run_with};
use redline_testkit_cluster::{Cluster, KwokDeployment, TestNamespace, wait_until};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const CONVERGE: Duration = Duration::from_secs(90);
const OPT_IN: &str = "redline.dev/chaos";

/// A Deployment and its Service on KWOK's nodes; pods carry the chaos opt-in label.
fn web(name: &str, replicas: u32) -> String {
    KwokDeployment::new(name, replicas)
        .label(OPT_IN, "enabled")
        .with_service()
        .yaml()
}

fn args(ns: &str, fault: FaultKind) -> ChaosArgs {
    let mut a = ChaosArgs::new(ns, fault);
    a.recovery_poll = Duration::from_millis(100);
    a.recovery_timeout = CONVERGE;
    a
}

async fn settle(cluster: &Cluster, ns: &str, app: &str, n: usize) {
    wait_until(
        &format!("{n} ready {app} pods and endpoints"),
        CONVERGE,
        async || {
            let pods = cluster.ready_pods(ns, &format!("app={app}")).await.ok()?;
            let endpoints = cluster.endpoint_addresses(ns, app).await.ok()?;
            (pods.len() == n && endpoints.len() == n).then_some(())
        },
    )
    .await
    .unwrap();
}

/// A new namespace `prefix-…` holding [`web`] `app` of `n` replicas, settled.
async fn serving(cluster: &Cluster, prefix: &str, app: &str, n: u32) -> TestNamespace {
    let ns = cluster.namespace(prefix).await.unwrap();
    cluster
        .apply_yaml(Some(ns.name()), &web(app, n))
        .await
        .unwrap();
    settle(cluster, ns.name(), app, n as usize).await;
    ns
}

fn uid(p: &Pod) -> String {
    p.metadata.uid.clone().unwrap_or_default()
}

/// The uids of the ready pods `selector` matches: which pods, not how many, so a
/// replacement under the same name counts as new.
async fn ready_uids(cluster: &Cluster, ns: &str, selector: &str) -> BTreeSet<String> {
    cluster
        .ready_pods(ns, selector)
        .await
        .unwrap()
        .iter()
        .map(uid)
        .collect()
}

/// The uids of every pod `selector` matches, ready or not.
async fn listed_uids(pods: &Api<Pod>, selector: &str) -> BTreeSet<String> {
    pods.list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .iter()
        .map(uid)
        .collect()
}

fn secs(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_and_role_narrow_the_victims_and_a_selector_without_opt_in_finds_nothing() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("chaos-scope").await.unwrap();
    let api_yaml = KwokDeployment::new("api", 2).with_service().yaml();
    for yaml in [web("db", 2), api_yaml] {
        cluster.apply_yaml(Some(ns.name()), &yaml).await.unwrap();
    }
    settle(&cluster, ns.name(), "db", 2).await;
    settle(&cluster, ns.name(), "api", 2).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), ns.name());
    let client = cluster.client_without_retry().await.unwrap();
    // Mark one db pod as primary.
    let primary = cluster.ready_pods(ns.name(), "app=db").await.unwrap()[0].clone();
    let primary_name = primary.metadata.name.clone().unwrap();
    pods.patch(
        &primary_name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"role": "master"}}})),
    )
    .await
    .unwrap();

    let mut a = args(ns.name(), FaultKind::PodKill);
    a.pick = redline_chaos::faults::pod_kill::Pick::Role;
    a.fault_label = Some("db-failover".into());
    a.grace_period = Some(0);
    let report = run_with(a, Some(client.clone()), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.faults[0].target, primary_name);
    assert_eq!(report.faults[0].fault, "db-failover");
    let primary_uid = uid(&primary);
    let db_now = listed_uids(&pods, "app=db").await;
    assert!(!db_now.contains(&primary_uid), "the primary was killed");

    // api pods match the selector but are not opted in: nothing to kill.
    let api_before = ready_uids(&cluster, ns.name(), "app=api").await;
    let mut a = args(ns.name(), FaultKind::PodKill);
    a.selector = "app=api".parse::<Selector>().unwrap();
    let err = run_with(a, Some(client.clone()), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, redline_chaos::ChaosError::NoTarget(_)),
        "{err}"
    );
    let api_after = listed_uids(&pods, "app=api").await;
    assert_eq!(api_after, api_before, "no api pod touched");

    // ... unless the opt-in is waived.
    let mut a = args(ns.name(), FaultKind::PodKill);
    a.selector = "app=api".parse::<Selector>().unwrap();
    a.ignore_opt_in = true;
    a.grace_period = Some(0);
    let report = run_with(a, Some(client), CancellationToken::new())
        .await
        .unwrap();
    assert!(report.faults[0].target.starts_with("api-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_kill_is_healed_by_the_real_replicaset_and_endpoint_slice_controllers() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = serving(&cluster, "chaos-kill", "web", 3).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), ns.name());
    let before = ready_uids(&cluster, ns.name(), "app=web").await;

    let mut a = args(ns.name(), FaultKind::PodKill);
    a.pick = redline_chaos::faults::pod_kill::Pick::All;
    a.grace_period = Some(0);
    let killed_at = SystemTime::now();
    let report = run_with(
        a,
        Some(cluster.client_without_retry().await.unwrap()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    print!("{report}");
    let f = &report.faults[0];
    assert_eq!(f.fault, "pod-kill");
    assert!(f.timed_out.is_empty(), "{f:?}");
    assert!(report.undo_failed.is_empty());

    let after = cluster.ready_pods(ns.name(), "app=web").await.unwrap();
    assert_eq!(after.len(), 3, "the ReplicaSet replaced every pod");
    let after_uids: BTreeSet<String> = after.iter().map(uid).collect();
    assert!(after_uids.is_disjoint(&before), "all three are new pods");
    assert_eq!(
        cluster
            .endpoint_addresses(ns.name(), "web")
            .await
            .unwrap()
            .len(),
        3
    );

    // The workload clock stops when the last replacement is Ready; the server stamps
    // that transition (whole seconds). They agree within a second and a poll.
    let workload = f.workload.expect("workload clock").as_secs_f64();
    let endpoints = f.endpoints.expect("endpoints clock").as_secs_f64();
    let last_ready = after
        .iter()
        .filter_map(|p| {
            let c = p.status.as_ref()?.conditions.as_ref()?;
            let r = c.iter().find(|c| c.type_ == "Ready")?;
            Some(secs(
                killed_at,
                SystemTime::from(r.last_transition_time.as_ref()?.0),
            ))
        })
        .fold(f64::MIN, f64::max);
    println!(
        "pod-kill recovery: workload {workload:.2} s, endpoints {endpoints:.2} s \
         (last Ready by the server {last_ready:.2} s after the kill)"
    );
    assert!(
        (workload - last_ready).abs() <= 1.6,
        "workload clock {workload:.2} s, the server saw the last pod Ready at {last_ready:.2} s"
    );
    assert!(
        endpoints + 0.2 >= workload,
        "endpoints ({endpoints:.2} s) follow the pods ({workload:.2} s)"
    );
    assert!(workload < CONVERGE.as_secs_f64());
    // The killed pods are gone from the API, not just from the endpoints.
    let left = pods.list(&ListParams::default()).await.unwrap();
    assert!(left.items.iter().all(|p| !before.contains(&uid(p))));
    ns.delete().await.unwrap();
}

/// Puts the node's opt-in label back off whatever happens, so a failing test leaves the
/// shared cluster as it found it.
struct NodeOptIn {
    nodes: Api<Node>,
    name: String,
}

impl NodeOptIn {
    async fn set(nodes: Api<Node>, name: &str) -> NodeOptIn {
        nodes
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {OPT_IN: "enabled"}}})),
            )
            .await
            .unwrap();
        NodeOptIn {
            nodes,
            name: name.to_string(),
        }
    }

    async fn clear(self) {
        self.nodes
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {OPT_IN: null}}})),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_a_real_pdb_then_evicts_and_uncordons() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = serving(&cluster, "chaos-drain", "db", 4).await;
    let client = cluster.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    let nodes: Api<Node> = Api::all(client.clone());
    // The node holding the first pod is the one drained.
    let ready = cluster.ready_pods(ns.name(), "app=db").await.unwrap();
    let node = ready[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    let on_node: Vec<String> = ready
        .iter()
        .filter(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some(node.as_str()))
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();

    // No disruption allowed: every eviction is refused with 429 until the budget opens.
    cluster
        .apply_yaml(
            Some(ns.name()),
            r#"
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec:
  minAvailable: 4
  selector: {matchLabels: {app: db}}
"#,
        )
        .await
        .unwrap();
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns.name());
    wait_until(
        "the disruption controller computes the budget",
        CONVERGE,
        async || {
            let pdb = pdbs.get("db").await.ok()?;
            let s = pdb.status?;
            (s.observed_generation == pdb.metadata.generation
                && s.current_healthy == Some(4)
                && s.disruptions_allowed == Some(0))
            .then_some(())
        },
    )
    .await
    .unwrap();

    let opt_in = NodeOptIn::set(nodes.clone(), &node).await;
    let mut a = args(ns.name(), FaultKind::NodeDrain);
    a.node = Some(node.clone());
    a.hold = Duration::from_secs(8);
    a.evict_backoff = Duration::from_millis(500);
    a.evict_timeout = Duration::from_secs(60);
    let started = std::time::Instant::now();
    let run = tokio::spawn(run_with(
        a,
        Some(cluster.client_without_retry().await.unwrap()),
        CancellationToken::new(),
    ));
    wait_until("the node cordoned", CONVERGE, async || {
        let n = nodes.get(&node).await.ok()?;
        (n.spec?.unschedulable == Some(true)).then_some(())
    })
    .await
    .unwrap();
    // Let a few rounds be refused, then open the budget to one disruption at a time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = pods
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap();
    assert!(
        on_node.iter().all(|n| {
            left.items
                .iter()
                .any(|p| p.metadata.name.as_deref() == Some(n.as_str()))
        }),
        "nothing evicted while the budget allows no disruption"
    );
    pdbs.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"minAvailable": 3}})),
    )
    .await
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the drain ends")
        .unwrap()
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    print!("{report}");
    opt_in.clear().await;
    let f = &report.faults[0];
    assert_eq!(f.target, node);
    assert!(f.not_evicted.is_empty(), "{f:?}");
    assert!(
        f.evictions_refused >= on_node.len() as u64 * 2,
        "refused at least twice per pod while the budget was shut: {f:?}"
    );
    assert!(report.undo_failed.is_empty());
    let n = nodes.get(&node).await.unwrap();
    assert_ne!(
        n.spec.unwrap().unschedulable,
        Some(true),
        "uncordoned after the hold"
    );
    settle(&cluster, ns.name(), "db", 4).await;
    let now = pods
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap();
    for p in &now.items {
        assert!(
            !on_node.contains(p.metadata.name.as_ref().unwrap()),
            "evicted"
        );
    }
    let workload = f.workload.expect("workload clock").as_secs_f64();
    println!(
        "drain of {node} ({} pods) with the PDB: {} refusals, workload back in {workload:.2} s, \
         run {took:.1} s (hold 8 s)",
        on_node.len(),
        f.evictions_refused
    );
    ns.delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_creates_its_network_policies_and_removes_them() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("chaos-part").await.unwrap();
    let mut a = args(ns.name(), FaultKind::Partition);
    a.partition_a = Some("app=web".parse().unwrap());
    a.partition_b = Some("app=db".parse().unwrap());
    a.hold = Duration::from_secs(600);
    let stop = CancellationToken::new();
    let run = tokio::spawn(run_with(
        a,
        Some(cluster.client_without_retry().await.unwrap()),
        stop.clone(),
    ));
    let policies: Api<NetworkPolicy> = Api::namespaced(cluster.client(), ns.name());
    let made = wait_until("both NetworkPolicies accepted", CONVERGE, async || {
        let l = policies.list(&ListParams::default()).await.ok()?;
        (l.items.len() == 2).then_some(l.items)
    })
    .await
    .unwrap();
    for p in &made {
        // The real API server validated and defaulted them.
        let spec = p.spec.as_ref().unwrap();
        assert!(
            spec.policy_types.as_ref().is_some_and(|t| !t.is_empty()),
            "{p:?}"
        );
        assert_eq!(
            p.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "redline-chaos"
        );
    }
    let a_side = made
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("redline-partition-1-a"))
        .expect("the A side's policy");
    let selected =
        Selector::from_api(a_side.spec.as_ref().unwrap().pod_selector.as_ref().unwrap()).unwrap();
    assert_eq!(selected.to_string(), "app=web,redline.dev/chaos=enabled");
    let before = cluster.apiserver_requests().await.unwrap();
    let started = std::time::Instant::now();
    stop.cancel(); // what SIGTERM does through the runtime's shutdown token
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "ends promptly on SIGTERM"
    );
    assert!(report.undo_failed.is_empty());
    assert_eq!(report.faults[0].fault, "network-partition");
    assert!(
        policies
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let deletes = [
        ("resource", "networkpolicies"),
        ("verb", "DELETE"),
        ("code", "200"),
    ];
    // Counted as each request finishes, which may be just after its response is sent.
    let after = wait_until("the deletes counted", CONVERGE, async || {
        let now = cluster.apiserver_requests().await.ok()?;
        (now.since(&before, &deletes) >= 2.0).then_some(now)
    })
    .await
    .unwrap();
    assert_eq!(after.since(&before, &deletes), 2.0, "one delete per policy");
    ns.delete().await.unwrap();
}
