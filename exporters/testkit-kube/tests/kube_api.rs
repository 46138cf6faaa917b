//! The test API server driven through the real `kube` client only.
//!
//! Every test of plain API semantics runs twice, as `<test>::imitation` against
//! [`KubeApiServer`] (with its KWOK-like controllers) and as `<test>::real` against the real
//! control plane of `hack/cluster/up.sh` (`REDLINE_TEST_KUBECONFIG`, each test in its own
//! namespace), so the imitation cannot drift from the real server unnoticed. Without a
//! cluster the real half prints one loud line and returns (under `CI=true` it fails). The
//! tests after `on_both!` run on one of the two: on the real server only, what the imitation
//! no longer serves because no daemon test needs it there (the scale subresource, field
//! ownership in server-side apply, PodDisruptionBudgets); on the imitation only, what only it can show on demand
//! (injected faults, 429 with Retry-After, dropped watches, compaction, paused time, KWOK
//! internals).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Node, Pod, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use redline_testkit_cluster::{Cluster, TestNamespace, wait_until};
use redline_testkit_kube::{ContainerUsage, Fault, FaultKind, KubeApiServer, KwokConfig, Verb};
use serde_json::json;

const NS: &str = "test-load";

/// How long a real cluster's controllers may take to converge (the imitation is immediate).
const CONVERGE: Duration = Duration::from_secs(60);

/// One API server a dual test talks to, through the real `kube` client only.
struct Backend {
    client: kube::Client,
    /// Without kube's retry layer, as the daemons build theirs: a PDB's 429 reaches the caller.
    client_without_retry: kube::Client,
    ns: String,
    _imitation: Option<KubeApiServer>,
    /// Deleted (and waited for) when the test ends, also by a panic.
    _real: Option<TestNamespace>,
}

impl Backend {
    async fn imitation() -> Backend {
        let server = KubeApiServer::start_kwok().await.unwrap();
        Backend {
            client: server.client().unwrap(),
            client_without_retry: server.client_without_retry().unwrap(),
            ns: NS.to_string(),
            _imitation: Some(server),
            _real: None,
        }
    }

    /// `None` (after one loud line) when there is no cluster; under `CI=true` that panics.
    async fn real() -> Option<Backend> {
        let cluster = Cluster::shared().await?;
        let ns = cluster.namespace("kube-api").await.unwrap();
        Some(Backend {
            client: cluster.client(),
            client_without_retry: cluster.client_without_retry().await.unwrap(),
            ns: ns.name().to_string(),
            _imitation: None,
            _real: Some(ns),
        })
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }
}

/// `mod <test> { imitation, real }` for each `async fn <test>(&Backend)`.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn imitation() {
                super::$test(&super::Backend::imitation().await).await;
            }

            #[tokio::test]
            async fn real() {
                let Some(backend) = super::Backend::real().await else { return };
                super::$test(&backend).await;
            }
        }
    )*};
}

on_both!(
    apply_get_list_and_delete_collection,
    create_conflicts_and_stale_replace,
    watch_streams_adds_scales_and_deletes,
    eviction_deletes_the_pod_and_a_missing_pod_is_404,
    token_request_issues_a_token_with_expiry,
    plain_types_round_trip_network_policies_and_secrets,
    deployments_are_defaulted_as_the_real_server_does,
);

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "redline.io/churn": "true"},
                     "annotations": {"redline.io/scaled-at": "1700000000.000"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                // Only KWOK's nodes run pods on the real cluster (the imitation ignores both).
                "spec": {"nodeSelector": {"type": "kwok"},
                         "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists",
                                          "effect": "NoSchedule"}],
                         "containers": [{"name": "app", "image": "fake",
                                          "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    }))
    .expect("valid deployment")
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name},
                 "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
    }))
    .expect("valid service")
}

/// The Status `reason` of an API error (clients branch on it, not only on the code).
/// Deployment `web` of two replicas, and its pods through the client without retries
/// (so an eviction's 429 reaches the test).
async fn web_of_two(b: &Backend) -> (Api<Deployment>, Api<Pod>) {
    let deploys: Api<Deployment> = b.api();
    let pods: Api<Pod> = Api::namespaced(b.client_without_retry.clone(), &b.ns);
    deploys
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    (deploys, pods)
}

/// Evicts `victim` of `web`: accepted (201), the pod goes, and the Deployment brings its
/// two replicas back.
async fn evict_and_see_replaced(deploys: &Api<Deployment>, pods: &Api<Pod>, victim: &str) {
    let status = pods.evict(victim, &EvictParams::default()).await.unwrap();
    assert_eq!(status.code, 201);
    wait_until(
        &format!("evicted pod {victim} gone"),
        CONVERGE,
        async || matches!(pods.get_opt(victim).await, Ok(None)).then_some(()),
    )
    .await
    .unwrap();
    wait_until("a replacement pod", CONVERGE, async || {
        let st = deploys.get("web").await.ok()?.status?;
        (st.ready_replicas == Some(2)).then_some(())
    })
    .await
    .unwrap();
}

/// Server-side applies Deployment `svc-a` of two replicas as churn does (manager
/// `churn`, forced).
async fn apply_svc_a(api: &Api<Deployment>) -> Deployment {
    let pp = PatchParams::apply("churn").force();
    api.patch("svc-a", &pp, &Patch::Apply(deployment("svc-a", 2)))
        .await
        .unwrap()
}

/// A merge patch of the replica count, to the object or its scale subresource.
fn replicas(n: i32) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"spec": {"replicas": n}}))
}

/// Sets `name`'s replicas with a merge patch, as `kubectl scale` would.
async fn scale(api: &Api<Deployment>, name: &str, n: i32) -> Result<Deployment, kube::Error> {
    api.patch(name, &PatchParams::default(), &replicas(n)).await
}

/// An imitation server holding one Deployment `name` (one replica) in NS, and the
/// Deployments API of its retrying client: where the imitation-only tests start.
async fn imitation_with_deployment(name: &str) -> (KubeApiServer, Api<Deployment>) {
    let server = KubeApiServer::start().await.unwrap();
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), NS);
    api.create(&PostParams::default(), &deployment(name, 1))
        .await
        .unwrap();
    (server, api)
}

fn api_reason(e: &kube::Error) -> Option<&str> {
    match e {
        kube::Error::Api(s) => Some(s.reason.as_str()),
        _ => None,
    }
}

fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

async fn apply_get_list_and_delete_collection(b: &Backend) {
    let api: Api<Deployment> = b.api();

    let pp = PatchParams::apply("churn").force();
    let d = apply_svc_a(&api).await;
    let meta = &d.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));

    // Re-applying the same intent is a no-op: the spec is not touched. (The Deployment's
    // resourceVersion is no witness on a real server, whose deployment controller writes
    // its status meanwhile: the Service below is.)
    let again = apply_svc_a(&api).await;
    assert_eq!(again.metadata.generation, Some(1));
    let services: Api<Service> = b.api();
    let s1 = services
        .patch("svc-a", &pp, &Patch::Apply(service("svc-a")))
        .await
        .unwrap();
    let s2 = services
        .patch("svc-a", &pp, &Patch::Apply(service("svc-a")))
        .await
        .unwrap();
    assert_eq!(s2.metadata.resource_version, s1.metadata.resource_version);

    for name in ["svc-b", "svc-c"] {
        api.create(&PostParams::default(), &deployment(name, 1))
            .await
            .unwrap();
    }
    let names = |l: kube::core::ObjectList<Deployment>| {
        l.items
            .into_iter()
            .map(|d| d.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    for (selector, want) in [
        ("app=svc-b", &["svc-b"][..]),
        ("app in (svc-a,svc-c)", &["svc-a", "svc-c"][..]),
        ("app!=svc-a,redline.io/churn", &["svc-b", "svc-c"][..]),
        ("!nope,app notin (svc-a)", &["svc-b", "svc-c"][..]),
        (
            "redline.io/churn=true,app",
            &["svc-a", "svc-b", "svc-c"][..],
        ),
        ("nope", &[][..]),
    ] {
        let got = names(
            api.list(&ListParams::default().labels(selector))
                .await
                .unwrap(),
        );
        assert_eq!(got, want, "{selector}");
    }
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=svc-b"))
                .await
                .unwrap()
        ),
        ["svc-b"]
    );
    // Paging: kube follows continue tokens when asked for small pages.
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().unwrap();
    let rest = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(rest), ["svc-c"]);

    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("redline.io/churn=true"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().unwrap().items.len(), 3);
    assert!(
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let err = api.get("svc-a").await.unwrap_err();
    assert_eq!(api_code(&err), Some(404));
    assert_eq!(api_reason(&err), Some("NotFound"));
}

/// A Secret, which no controller writes: on a real server a Deployment's status changes
/// under the test and would make even the first replace stale.
async fn create_conflicts_and_stale_replace(b: &Backend) {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    let api: Api<Secret> = b.api();
    let secret = |v: &str| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": v}})).unwrap()
    };
    let s = api
        .create(&PostParams::default(), &secret("1"))
        .await
        .unwrap();
    let err = api
        .create(&PostParams::default(), &secret("1"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(409));
    assert_eq!(api_reason(&err), Some("AlreadyExists"));
    // stringData is write-only: the server folds it into data.
    assert_eq!(s.data.as_ref().unwrap()["k"], ByteString(b"1".to_vec()));
    assert!(s.string_data.is_none());
    // Plain data has no generation on the real server.
    assert_eq!(s.metadata.generation, None);

    let mut first = s.clone();
    first.data = Some([("k".to_string(), ByteString(b"2".to_vec()))].into());
    api.replace("s", &PostParams::default(), &first)
        .await
        .unwrap();
    let mut stale = s;
    stale.data = Some([("k".to_string(), ByteString(b"3".to_vec()))].into());
    let err = api
        .replace("s", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(409));
    assert_eq!(api_reason(&err), Some("Conflict"));
    let current = api.get("s").await.unwrap();
    assert_eq!(current.data.unwrap()["k"], ByteString(b"2".to_vec()));
    // A delete whose precondition is stale is refused too; a current one goes through.
    let precondition = |rv: Option<String>| DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            resource_version: rv,
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let err = api
        .delete("s", &precondition(stale.metadata.resource_version.clone()))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(409));
    let deleted = api
        .delete("s", &precondition(current.metadata.resource_version))
        .await
        .unwrap();
    // A Secret is gone at once, and the server says so with a Status, not the object.
    let status = deleted.right().expect("a Status");
    assert_eq!(status.details.unwrap().name, "s");
    assert!(api.get_opt("s").await.unwrap().is_none());
}

// Real only: what the imitation no longer serves because no daemon test needs it there.

/// The scale subresource, as an HPA or `kubectl scale` uses it.
#[tokio::test]
async fn the_scale_subresource_reads_and_writes_a_deployments_replicas() {
    let Some(b) = Backend::real().await else {
        return;
    };
    let api: Api<Deployment> = b.api();
    apply_svc_a(&api).await;
    let scale = api
        .patch_scale("svc-a", &PatchParams::default(), &replicas(4))
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    let d = api.get("svc-a").await.unwrap();
    assert_eq!(d.spec.replicas, Some(4));
    assert_eq!(d.metadata.generation, Some(2));
    assert_eq!(
        d.metadata.annotations.unwrap()["redline.io/scaled-at"],
        "1700000000.000",
        "stamped annotations survive a scale"
    );
    let scale = api.get_scale("svc-a").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    // The label selector in its string form, what an HPA reads.
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=svc-a"));
}

/// Field ownership: managedFields name each manager, and another manager changing an
/// owned field without force is refused with the real server's words.
#[tokio::test]
async fn server_side_apply_records_managers_and_refuses_a_conflict() {
    let Some(b) = Backend::real().await else {
        return;
    };
    let api: Api<Deployment> = b.api();
    let d = apply_svc_a(&api).await;
    assert_eq!(
        d.metadata.managed_fields.as_ref().unwrap()[0]
            .manager
            .as_deref(),
        Some("churn")
    );
    let churn_entry = |d: &Deployment| {
        d.metadata
            .managed_fields
            .iter()
            .flatten()
            .find(|m| m.manager.as_deref() == Some("churn"))
            .cloned()
    };
    let again = apply_svc_a(&api).await;
    assert_eq!(churn_entry(&again), churn_entry(&d));

    // Another manager changing an owned field without force conflicts.
    let other = PatchParams::apply("someone-else");
    let err = api
        .patch(
            "svc-a",
            &other,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"replicas": 5}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(409));
    assert_eq!(api_reason(&err), Some("Conflict"));
    // The message names who owns which field, in the real server's words.
    match &err {
        kube::Error::Api(s) => assert_eq!(
            s.message,
            r#"Apply failed with 1 conflict: conflict with "churn": .spec.replicas"#
        ),
        other => panic!("{other}"),
    }
}

/// A PodDisruptionBudget, its status as the disruption controller computes it, and the
/// eviction it refuses (429) until the budget allows one.
#[tokio::test]
async fn eviction_is_refused_by_a_pdb_until_the_budget_allows_it() {
    let Some(b) = Backend::real().await else {
        return;
    };
    let b = &b;
    let (deploys, pods) = web_of_two(b).await;
    let pdbs: Api<PodDisruptionBudget> = b.api();
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    }))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    // The budget's status, as the disruption controller computes it.
    let budget = async |healthy: i32, allowed: i32| {
        wait_until(
            &format!("PDB web: {healthy} healthy, {allowed} disruptions allowed"),
            CONVERGE,
            async || {
                let st = pdbs.get("web").await.ok()?.status?;
                (st.current_healthy == Some(healthy) && st.disruptions_allowed == Some(allowed))
                    .then_some(())
            },
        )
        .await
        .unwrap()
    };
    budget(2, 0).await;
    let victim = pods.list(&ListParams::default()).await.unwrap().items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    let err = pods
        .evict(&victim, &EvictParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(429));
    assert_eq!(api_reason(&err), Some("TooManyRequests"));

    pdbs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"minAvailable": 1}})),
    )
    .await
    .unwrap();
    budget(2, 1).await;
    evict_and_see_replaced(&deploys, &pods, &victim).await;
}

// Imitation only: faults injected on demand.
#[tokio::test]
async fn injected_faults_surface() {
    let (server, api) = imitation_with_deployment("d").await;

    // kube's default client retries 429 by itself, honouring Retry-After.
    server.inject(
        Fault::new(
            FaultKind::TooManyRequests {
                retry_after_secs: 0,
            },
            2,
        )
        .verb(Verb::Get),
    );
    api.get("d").await.unwrap();
    assert_eq!(server.injected_faults(), 2);
    assert_eq!(server.request_count(Verb::Get, "deployments"), 3);

    let api: Api<Deployment> = Api::namespaced(server.client_without_retry().unwrap(), NS);
    server.inject(
        Fault::new(
            FaultKind::TooManyRequests {
                retry_after_secs: 1,
            },
            2,
        )
        .verb(Verb::Get),
    );
    assert_eq!(api_code(&api.get("d").await.unwrap_err()), Some(429));
    // A list is not a get: the armed fault waits for the next get.
    api.list(&ListParams::default()).await.unwrap();
    assert_eq!(api_code(&api.get("d").await.unwrap_err()), Some(429));
    api.get("d").await.unwrap();

    server.fail_next_with_500(1);
    assert_eq!(
        api_code(&api.list(&ListParams::default()).await.unwrap_err()),
        Some(500)
    );
    server.inject(
        Fault::new(FaultKind::Conflict, 1)
            .verb(Verb::Patch)
            .resource("deployments"),
    );
    let err = scale(&api, "d", 1).await.unwrap_err();
    assert_eq!(api_code(&err), Some(409));
    assert_eq!(server.injected_faults(), 6);
    assert_eq!(server.request_count(Verb::Get, "deployments"), 6);
}

/// Opens a watch on `app=w` from the current resourceVersion (returned too), then creates `w`
/// and `other`, scales `w` to 2 and deletes it: the life both watch tests read back.
async fn watch_w_through_its_life(
    api: &Api<Deployment>,
    timeout_secs: u32,
) -> (
    String,
    futures::stream::BoxStream<'static, kube::Result<WatchEvent<Deployment>>>,
) {
    let before = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let stream = api
        .watch(
            &WatchParams::default().labels("app=w").timeout(timeout_secs),
            &before,
        )
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &deployment("w", 1))
        .await
        .unwrap();
    api.create(&PostParams::default(), &deployment("other", 1))
        .await
        .unwrap();
    scale(api, "w", 2).await.unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    (before, stream)
}

/// Adds, spec changes and deletes in order, filtered by label. Status-only modifications
/// (a real deployment controller writes several) are not what this is about: a MODIFIED
/// that leaves `spec.replicas` where it was is skipped.
async fn watch_streams_adds_scales_and_deletes(b: &Backend) {
    let api: Api<Deployment> = b.api();
    let (_, mut stream) = watch_w_through_its_life(&api, 30).await;
    let mut seen = Vec::new();
    let mut replicas = None;
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while !seen.iter().any(|s: &String| s.starts_with("DELETED"))
        && tokio::time::Instant::now() < deadline
    {
        let ev = tokio::time::timeout(CONVERGE, stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .expect("the watch ended before the delete");
        match ev {
            WatchEvent::Added(d) => {
                replicas = d.spec.replicas;
                seen.push(format!("ADDED {}", d.metadata.name.unwrap()));
            }
            WatchEvent::Modified(d) => {
                let now = d.spec.replicas;
                if now != replicas {
                    seen.push(format!("MODIFIED {}", now.unwrap()));
                }
                replicas = now;
            }
            WatchEvent::Deleted(d) => seen.push(format!("DELETED {}", d.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED w", "MODIFIED 2", "DELETED w"]);
}

// Imitation only: bookmarks at a chosen interval and a compaction on demand.
#[tokio::test]
async fn watch_streams_events_bookmarks_and_410() {
    let server = KubeApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let api: Api<Deployment> = Api::namespaced(server.client().unwrap(), NS);
    let (before, mut stream) = watch_w_through_its_life(&api, 10).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.len() < 4 && tokio::time::Instant::now() < deadline {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(match ev {
            WatchEvent::Added(d) => format!("ADDED {}", d.metadata.name.unwrap()),
            WatchEvent::Modified(d) => format!("MODIFIED {}", d.spec.replicas.unwrap()),
            WatchEvent::Deleted(d) => format!("DELETED {}", d.metadata.name.unwrap()),
            WatchEvent::Bookmark(b) => {
                assert!(!b.metadata.resource_version.is_empty());
                "BOOKMARK".into()
            }
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        });
        seen.dedup_by(|a, b| a == "BOOKMARK" && b == "BOOKMARK");
    }
    let events: Vec<_> = seen.iter().filter(|s| *s != "BOOKMARK").cloned().collect();
    assert_eq!(events, ["ADDED w", "MODIFIED 2", "DELETED w"]);
    assert!(
        seen.iter().any(|s| s == "BOOKMARK"),
        "bookmarks were requested: {seen:?}"
    );

    // Resuming from a compacted resourceVersion is 410 Gone, delivered in-stream.
    server.compact();
    let mut stream = api
        .watch(&WatchParams::default(), &before)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

// Imitation only: the server drops every watch on demand.
#[tokio::test]
async fn runtime_watcher_sees_changes_and_survives_dropped_watches() {
    let (server, api) = imitation_with_deployment("a").await;
    // The watcher only makes progress while polled: drive it from a task.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
    let driver = tokio::spawn(async move {
        let mut stream = stream.boxed();
        while let Ok(Some(d)) = stream.try_next().await {
            if tx.send(d.metadata.name.unwrap_or_default()).await.is_err() {
                break;
            }
        }
    });
    // The watcher reports `name` next, holding exactly one watch.
    let mut sees = async |name: &str| {
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next, name);
        assert!(
            server
                .wait_for(Duration::from_secs(5), |s| s.active_watches() == 1)
                .await
        );
    };
    sees("a").await;

    // The server closes the stream; the watcher re-watches from its last rv.
    server.drop_watches();
    api.create(&PostParams::default(), &deployment("b", 1))
        .await
        .unwrap();
    sees("b").await;
    driver.abort();
}

async fn wait_ready_endpoints(
    server: &KubeApiServer,
    svc: &str,
    n: usize,
    timeout: Duration,
) -> bool {
    server
        .wait_for(timeout, |s| {
            let slices: Vec<EndpointSlice> = s.list(Some(NS));
            let ready: usize = slices
                .iter()
                .filter(|e| {
                    e.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("kubernetes.io/service-name"))
                        .map(String::as_str)
                        == Some(svc)
                })
                .map(|e| {
                    e.endpoints
                        .iter()
                        .flatten()
                        .filter(|ep| ep.conditions.as_ref().and_then(|c| c.ready) == Some(true))
                        .count()
                })
                .sum();
            ready == n
        })
        .await
}

// Imitation only: KWOK delays measured under paused time (churn's real tests cover the
// real controllers).
#[tokio::test(start_paused = true)]
async fn kwok_scale_to_three_gives_ready_pods_and_endpoints_after_the_delay() {
    let ready_delay = Duration::from_secs(2);
    let endpoint_delay = Duration::from_secs(3);
    let server = KubeApiServer::start_kwok_with(
        KwokConfig::default()
            .pod_ready_delay(ready_delay)
            .endpoint_delay(endpoint_delay),
    )
    .await
    .unwrap();
    let client = server.client().unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    services
        .create(&PostParams::default(), &service("svc-a"))
        .await
        .unwrap();
    deploys
        .patch(
            "svc-a",
            &PatchParams::apply("churn"),
            &Patch::Apply(deployment("svc-a", 0)),
        )
        .await
        .unwrap();

    let start = tokio::time::Instant::now();
    scale(&deploys, "svc-a", 3).await.unwrap();
    assert!(wait_ready_endpoints(&server, "svc-a", 3, Duration::from_secs(30)).await);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= ready_delay + endpoint_delay,
        "endpoints too early: {elapsed:?}"
    );
    assert!(
        elapsed < ready_delay + endpoint_delay + Duration::from_millis(500),
        "endpoints too late: {elapsed:?}"
    );

    let listed = pods
        .list(&ListParams::default().labels("app=svc-a"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 3);
    for p in &listed.items {
        let name = p.metadata.name.as_deref().unwrap();
        assert!(name.starts_with("svc-a-"), "{name}");
        assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
        assert!(
            p.status
                .as_ref()
                .unwrap()
                .pod_ip
                .as_deref()
                .unwrap()
                .starts_with("10.244.")
        );
        assert!(
            p.spec
                .as_ref()
                .unwrap()
                .node_name
                .as_deref()
                .unwrap()
                .starts_with("kwok-node-")
        );
    }
    let node = listed.items[0]
        .spec
        .as_ref()
        .unwrap()
        .node_name
        .clone()
        .unwrap();
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .unwrap();
    assert!(
        on_node
            .items
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some(node.as_str()))
    );

    let d = deploys.get("svc-a").await.unwrap();
    let st = d.status.unwrap();
    assert_eq!(
        (
            st.replicas,
            st.ready_replicas,
            st.available_replicas,
            st.updated_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(
        d.metadata.annotations.unwrap()["redline.io/scaled-at"],
        "1700000000.000"
    );
    let slices: Vec<EndpointSlice> = server.list(Some(NS));
    assert_eq!(slices.len(), 1);
    assert_eq!(
        slices[0].ports.as_ref().unwrap()[0].port,
        Some(8080),
        "named targetPort resolved"
    );

    // A deleted pod is replaced by the "ReplicaSet", and the endpoints follow.
    let victim = listed.items[0].metadata.name.clone().unwrap();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    assert!(wait_ready_endpoints(&server, "svc-a", 2, Duration::from_secs(30)).await);
    assert!(wait_ready_endpoints(&server, "svc-a", 3, Duration::from_secs(30)).await);
    assert!(server.get::<Pod>(NS, &victim).is_none());

    // Scaling to zero empties the slice but keeps it as a placeholder.
    scale(&deploys, "svc-a", 0).await.unwrap();
    assert!(wait_ready_endpoints(&server, "svc-a", 0, Duration::from_secs(30)).await);
    assert_eq!(server.list::<EndpointSlice>(Some(NS)).len(), 1);
    assert!(server.list::<Pod>(Some(NS)).is_empty());
}

/// Eviction without a budget: the pod goes and its Deployment replaces it; a missing pod
/// is a 404. (A PodDisruptionBudget's refusal is the real server's: see below.)
async fn eviction_deletes_the_pod_and_a_missing_pod_is_404(b: &Backend) {
    let (deploys, pods) = web_of_two(b).await;
    let victim = wait_until("a web pod", CONVERGE, async || {
        let list = pods.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().next()?.metadata.name
    })
    .await
    .unwrap();
    let err = pods
        .evict("no-such-pod", &EvictParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(404));
    assert_eq!(api_reason(&err), Some("NotFound"));
    evict_and_see_replaced(&deploys, &pods, &victim).await;
}

// Imitation only: cordoning one of the real cluster's shared KWOK nodes would disturb
// other tests running at the same time (chaos's real drain test covers cordon there).
#[tokio::test(start_paused = true)]
async fn cordoned_nodes_get_no_new_pods() {
    let server = KubeApiServer::builder()
        .kwok(KwokConfig::default().nodes(2))
        .start()
        .await
        .unwrap();
    let client = server.client().unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    nodes.cordon("kwok-node-0").await.unwrap();
    assert_eq!(
        nodes
            .get("kwok-node-0")
            .await
            .unwrap()
            .spec
            .unwrap()
            .unschedulable,
        Some(true)
    );
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deploys
        .create(&PostParams::default(), &deployment("x", 4))
        .await
        .unwrap();
    assert!(
        server
            .wait_for(Duration::from_secs(10), |s| s.list::<Pod>(Some(NS)).len()
                == 4)
            .await
    );
    for p in server.list::<Pod>(Some(NS)) {
        assert_eq!(p.spec.unwrap().node_name.as_deref(), Some("kwok-node-1"));
    }
}

async fn token_request_issues_a_token_with_expiry(b: &Backend) {
    use base64::Engine as _;
    let sas: Api<ServiceAccount> = b.api();
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "user-1"}})).unwrap(),
    )
    .await
    .unwrap();
    let req = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec!["maas".into()]),
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tr = sas
        .create_token_request("user-1", &PostParams::default(), &req)
        .await
        .unwrap();
    let status = tr.status.unwrap();
    let token = status.token.as_deref().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT-shaped");
    // The claims a consumer reads (the signature is the real issuer's business).
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["sub"],
        format!("system:serviceaccount:{}:user-1", b.ns)
    );
    assert_eq!(claims["aud"], json!(["maas"]));
    assert_eq!(claims["kubernetes.io"]["namespace"], b.ns);
    assert_eq!(claims["kubernetes.io"]["serviceaccount"]["name"], "user-1");
    let exp = status.expiration_timestamp.unwrap().0.as_second();
    assert_eq!(claims["exp"], exp);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let missing = sas
        .create_token_request("nobody", &PostParams::default(), &req)
        .await
        .unwrap_err();
    assert_eq!(api_code(&missing), Some(404));
}

// Imitation only: usage values set by the test (the real metrics-server reports KWOK's).
#[tokio::test]
async fn pod_metrics_are_listed_with_test_values() {
    let server = KubeApiServer::start().await.unwrap();
    server.set_pod_metrics(
        NS,
        "linkerd-destination-0",
        vec![ContainerUsage::new("destination", "250m", "64Mi")],
    );
    server.set_pod_metrics("other", "x", vec![ContainerUsage::new("c", "1", "1Gi")]);
    let ar = ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(server.client().unwrap(), NS, &ar);
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let m = &list.items[0];
    assert_eq!(m.metadata.name.as_deref(), Some("linkerd-destination-0"));
    assert_eq!(m.data["containers"][0]["usage"]["cpu"], "250m");
    assert_eq!(m.data["containers"][0]["usage"]["memory"], "64Mi");
    let one = api.get("linkerd-destination-0").await.unwrap();
    assert_eq!(one.data["containers"][0]["name"], "destination");
}

async fn plain_types_round_trip_network_policies_and_secrets(b: &Backend) {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let nps: Api<NetworkPolicy> = b.api();
    let np: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "partition", "labels": {"redline.io/chaos": "true"}},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress", "Egress"]},
    }))
    .unwrap();
    let created = nps.create(&PostParams::default(), &np).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        nps.list(&ListParams::default().labels("redline.io/chaos"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    nps.delete("partition", &DeleteParams::default())
        .await
        .unwrap();
    assert!(nps.get_opt("partition").await.unwrap().is_none());

    let secrets: Api<Secret> = b.api();
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"generateName": "tok-"}, "stringData": {"k": "v"}}),
    )
    .unwrap();
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert!(created.metadata.name.unwrap().starts_with("tok-"));
}

/// What the server fills in on a Deployment (its spec and its pod template's), read back
/// after a create, a server-side apply and a merge patch. Clients that read a Deployment
/// back (churn's event stamps, chaos' recovery, hpa-watch) see these on a real cluster.
async fn deployments_are_defaulted_as_the_real_server_does(b: &Backend) {
    let api: Api<Deployment> = b.api();
    let minimal = |name: &str, image: &str| -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": {"type": "kwok"},
                                           "containers": [{"name": "app", "image": image,
                                                           "ports": [{"containerPort": 8080}]}]}}},
        }))
        .unwrap()
    };
    let spec_of = |d: &Deployment| serde_json::to_value(&d.spec).unwrap();
    let created = api
        .create(&PostParams::default(), &minimal("plain", "fake"))
        .await
        .unwrap();
    let spec = spec_of(&created);
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["securityContext"], json!({}));
    let c = &pod["containers"][0];
    // No tag is `latest`: pulled every time.
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");

    // Server-side apply of a Recreate Deployment with a tagged image: no rollingUpdate part,
    // IfNotPresent, and what was sent is kept.
    let mut recreate = minimal("recreate", "fake:1.0");
    recreate.spec.replicas = Some(0);
    recreate.spec.strategy = Some(serde_json::from_value(json!({"type": "Recreate"})).unwrap());
    let applied = api
        .patch(
            "recreate",
            &PatchParams::apply("test").force(),
            &Patch::Apply(recreate),
        )
        .await
        .unwrap();
    let spec = spec_of(&applied);
    assert_eq!(spec["replicas"], 0);
    assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );

    // A patch back to RollingUpdate with only maxSurge: the other bound is defaulted.
    let patched = api
        .patch(
            "recreate",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"strategy": {"type": "RollingUpdate",
                                                       "rollingUpdate": {"maxSurge": 1}}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        spec_of(&patched)["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}})
    );
}
