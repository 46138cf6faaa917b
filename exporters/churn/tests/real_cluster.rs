//! churn against the real control plane of hack/cluster (kube-apiserver, the Deployment,
//! ReplicaSet and EndpointSlice controllers, the scheduler, KWOK's nodes): every pattern
//! drives real Deployments, their pods reach Running and Ready, the EndpointSlices follow
//! the replica counts, and each event stamp agrees with what the API server recorded.
//! The QPS limit, measured by the API server's own counters, is in `real_qps.rs` (its own
//! binary, so no other test's requests are counted).
//!
//! Without REDLINE_TEST_KUBECONFIG every test prints one loud line and returns (under
//! CI=true it fails).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use redline_churn::timeline::timeline;
use redline_churn::{ChurnArgs, EVENT_ANNOTATION, PatternName};
use redline_runtime::CommonArgs;
use redline_testkit_cluster::{Cluster, wait_until};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Bounds one convergence on a loaded 2-core machine (KWOK makes pods Ready at once).
const CONVERGE: Duration = Duration::from_secs(90);

fn args(ns: &str, pattern: PatternName) -> ChurnArgs {
    let mut a = ChurnArgs::with_common(CommonArgs::default());
    a.namespace = ns.into();
    a.pattern = pattern;
    a.services = 2;
    a.endpoints_per_service = 2;
    a.run_id = Some(format!("real-{}", pattern.as_str()));
    a.qps = 50.0;
    a.burst = 50;
    a
}

fn stamp(d: &Deployment) -> Option<Value> {
    let raw = d.metadata.annotations.as_ref()?.get(EVENT_ANNOTATION)?;
    serde_json::from_str(raw).ok()
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The time the API server recorded for churn's last apply of `d` (managedFields, whole
/// seconds).
fn applied_at_ms(d: &Deployment) -> Option<i64> {
    d.metadata
        .managed_fields
        .as_ref()?
        .iter()
        .find(|m| m.manager.as_deref() == Some("redline-churn"))
        .and_then(|m| m.time.as_ref())
        .map(|t| unix_ms(SystemTime::from(t.0)))
}

/// What one service looked like at one look: the stamp (seq, replicas, unixMs), the
/// server's time of that apply, and the ready endpoints.
#[derive(Debug, Clone)]
struct Look {
    seq: u64,
    replicas: u64,
    stamp_ms: i64,
    applied_ms: Option<i64>,
}

/// oscillate with holds, jitter and one cycle, watched from outside: every stamp the
/// timeline plans is seen on the Deployment in order, the EndpointSlices reach each
/// stamp's replica count while it holds, the server's apply time matches the stamp, the
/// new pods are created after the stamp, and the run removes everything it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oscillate_moves_real_endpoint_slices_and_its_stamps_match_the_server() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("churn-osc").await.unwrap();
    let mut a = args(ns.name(), PatternName::Oscillate);
    a.min_endpoints = 1;
    a.max_endpoints = 3;
    a.min_hold = Duration::from_secs(6);
    a.max_hold = Duration::from_secs(6);
    a.jitter = Duration::from_millis(500);
    a.cycles = Some(1);
    let planned: Vec<(u64, u64)> = timeline(&a.plan().unwrap(), a.seed)
        .filter(|s| s.service == 0)
        .map(|s| (s.seq, u64::from(s.replicas)))
        .collect();
    assert_eq!(planned, [(0, 1), (1, 3), (2, 1)], "the plan under test");

    let client = cluster.client_without_retry().await.unwrap();
    let run = tokio::spawn(redline_churn::run_report(
        a,
        client.clone(),
        CancellationToken::new(),
    ));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns.name());

    // Watch test-service-1 until its last planned stamp has been seen with its endpoints.
    let mut looks: Vec<Look> = Vec::new();
    let mut endpoints_reached: BTreeMap<u64, bool> = BTreeMap::new();
    let mut created_per_seq: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    wait_until("test-service-1 through its plan", CONVERGE, async || {
        let d = deployments.get_opt("test-service-1").await.ok()??;
        let s = stamp(&d)?;
        let look = Look {
            seq: s["seq"].as_u64()?,
            replicas: s["replicas"].as_u64()?,
            stamp_ms: s["unixMs"].as_i64()?,
            applied_ms: applied_at_ms(&d),
        };
        assert_eq!(
            d.spec.replicas.map(|r| r as u64),
            Some(look.replicas),
            "the stamp and the spec are one apply"
        );
        if looks.last().map(|l| l.seq) != Some(look.seq) {
            looks.push(look.clone());
        }
        let ready = cluster
            .endpoint_addresses(ns.name(), "test-service-1")
            .await
            .ok()?
            .len() as u64;
        if ready == look.replicas && !endpoints_reached.get(&look.seq).copied().unwrap_or(false) {
            endpoints_reached.insert(look.seq, true);
            // The pods behind them, with the server's creation times.
            let list = pods
                .list(&ListParams::default().labels("app=test-service-1"))
                .await
                .ok()?;
            created_per_seq.insert(
                look.seq,
                list.items
                    .iter()
                    .filter_map(|p| p.metadata.creation_timestamp.as_ref())
                    .map(|t| unix_ms(SystemTime::from(t.0)))
                    .collect(),
            );
        }
        (look.seq == 2 && endpoints_reached.get(&2) == Some(&true)).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; saw {looks:?}, endpoints {endpoints_reached:?}"));

    let report = tokio::time::timeout(CONVERGE, run)
        .await
        .expect("the run ends after its one cycle")
        .unwrap()
        .unwrap();
    println!("oscillate: {looks:?} {report:?}");
    let seen: Vec<(u64, u64)> = looks.iter().map(|l| (l.seq, l.replicas)).collect();
    assert_eq!(seen, planned, "every planned stamp, in order, none skipped");
    assert_eq!(
        endpoints_reached.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "the EndpointSlices reached each stamp's replica count while it held"
    );
    // Server-side times are whole seconds (RFC 3339 without fractions): the apply the
    // server recorded lies within a second (plus clock granularity) of the stamp.
    for l in &looks {
        let applied = l.applied_ms.expect("managedFields has churn's apply time");
        assert!(
            applied <= l.stamp_ms + 1000 && applied >= l.stamp_ms - 2000,
            "seq {}: stamped at {} ms, the server recorded the apply at {} ms",
            l.seq,
            l.stamp_ms,
            applied
        );
    }
    // The scale to 3 made two new pods, created (by the ReplicaSet controller) after the
    // stamp; their ages are what dst-client's latency measures against.
    let up = &looks[1];
    let mut created = created_per_seq[&1].clone();
    created.sort();
    assert_eq!(created.len(), 3, "{created:?}");
    for c in &created[1..] {
        let lag = c - up.stamp_ms;
        assert!(
            (-1000..15_000).contains(&lag),
            "a new pod created {lag} ms after the scale-up stamp"
        );
    }
    assert_eq!(report.steps_dispatched, 6, "3 stamps x 2 services");
    assert!(!report.stopped_early);
    assert_eq!(report.deleted, 4, "2 Deployments + 2 Services");
    wait_until(
        "the pods gone with their Deployments",
        CONVERGE,
        async || {
            pods.list(&ListParams::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await
    .unwrap();
    ns.delete().await.unwrap();
}

/// stable, scale-up, rolling and spike, each short and kept: afterwards every Deployment
/// carries the timeline's last stamp for it, its spec says that many replicas, that many
/// pods are Running and Ready on KWOK nodes and the EndpointSlices list that many; then
/// `--cleanup` of that run id removes the run's objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pattern_ends_where_its_timeline_says_on_real_deployments() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("churn-pat").await.unwrap();
    let client = cluster.client_without_retry().await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    for pattern in [
        PatternName::Stable,
        PatternName::ScaleUp,
        PatternName::Rolling,
        PatternName::Spike,
    ] {
        let mut a = args(ns.name(), pattern);
        a.service_prefix = format!("p-{}", pattern.as_str());
        a.keep = true;
        match pattern {
            PatternName::Stable => a.duration = Some(Duration::from_secs(1)),
            PatternName::ScaleUp => {
                a.scale_from = 1;
                a.scale_to = 4;
                a.scale_steps = 3;
                a.scale_duration = Duration::from_secs(3);
                a.duration = Some(Duration::from_secs(4));
            }
            PatternName::Rolling => {
                a.min_endpoints = 1;
                a.max_endpoints = 3;
                a.rolling_step = 1;
                a.step_interval = Duration::from_secs(1);
                a.duration = Some(Duration::from_secs(4));
            }
            PatternName::Spike => {
                a.endpoints_per_service = 1;
                a.spike_to = 4;
                a.spike_hold = Duration::from_secs(1);
                a.spike_interval = Duration::from_secs(2);
                a.duration = Some(Duration::from_millis(2500));
            }
            PatternName::Oscillate => unreachable!(),
        }
        let steps: Vec<_> = timeline(&a.plan().unwrap(), a.seed).collect();
        let mut last: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
        for s in &steps {
            last.insert(s.service, (s.seq, s.replicas));
        }
        let prefix = a.service_prefix.clone();
        let run_id = a.run_id.clone().unwrap();
        let report = tokio::time::timeout(
            CONVERGE,
            redline_churn::run_report(a, client.clone(), CancellationToken::new()),
        )
        .await
        .unwrap_or_else(|_| panic!("{pattern:?} ends on time"))
        .unwrap();
        assert_eq!(
            report.steps_dispatched,
            steps.len() as u64,
            "{pattern:?}: every planned step was dispatched"
        );
        if pattern != PatternName::Stable {
            assert!(
                steps.iter().any(|s| s.seq > 0),
                "{pattern:?} changes something"
            );
        }
        for (service, (seq, replicas)) in &last {
            let name = format!("{prefix}-{}", service + 1);
            let d = deployments.get(&name).await.unwrap();
            let s = stamp(&d).unwrap();
            assert_eq!(
                (s["seq"].as_u64(), s["replicas"].as_u64(), s["run"].as_str()),
                (
                    Some(*seq),
                    Some(u64::from(*replicas)),
                    Some(run_id.as_str())
                ),
                "{name}"
            );
            assert_eq!(d.spec.replicas, Some(*replicas as i32), "{name}");
            let want = *replicas as usize;
            wait_until(
                &format!("{name}: {want} ready pods and endpoints"),
                CONVERGE,
                async || {
                    let pods = cluster
                        .ready_pods(ns.name(), &format!("app={name}"))
                        .await
                        .ok()?;
                    let on_kwok = pods.iter().all(|p| {
                        p.spec
                            .as_ref()
                            .and_then(|s| s.node_name.as_deref())
                            .is_some_and(|n| n.starts_with("kwok-"))
                    });
                    let endpoints = cluster.endpoint_addresses(ns.name(), &name).await.ok()?;
                    (pods.len() == want && on_kwok && endpoints.len() == want).then_some(())
                },
            )
            .await
            .unwrap();
        }
        println!(
            "{}: {} steps, final {:?}",
            pattern.as_str(),
            steps.len(),
            last
        );
        // Only this run's objects go.
        let mut cleanup = args(ns.name(), pattern);
        cleanup.cleanup = true;
        let report = redline_churn::run_report(cleanup, client.clone(), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            report.deleted,
            2 * last.len(),
            "{pattern:?}: Deployments + Services"
        );
    }
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    ns.delete().await.unwrap();
}
