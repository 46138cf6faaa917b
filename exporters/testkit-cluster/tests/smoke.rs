//! What later real-cluster tests rely on, proven against the control plane hack/test.sh
//! starts: KWOK nodes, workloads that reach Running and Ready with IPs from the nodes'
//! podCIDRs, EndpointSlices that follow, real TokenRequest and RBAC, the Eviction API
//! with a PodDisruptionBudget, the API server's counters and heap profile, metrics.k8s.io.
//!
//! Without REDLINE_TEST_KUBECONFIG every test here prints one loud line and returns.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{EvictParams, ListParams, PostParams};
use redline_testkit_cluster::{Cluster, KwokDeployment, wait_until};

/// A Deployment's pods on KWOK's nodes converge in seconds; this bounds a loaded machine.
const CONVERGE: Duration = Duration::from_secs(120);

/// A Deployment (and Service, same name) whose pods land on KWOK's nodes.
fn web(name: &str, replicas: u32) -> KwokDeployment {
    KwokDeployment::new(name, replicas).with_service()
}

fn pod_ips(pods: &[Pod]) -> Vec<String> {
    let mut ips: Vec<String> = pods
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    ips.sort();
    ips
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (Some((net, bits)), Ok(ip)) = (cidr.split_once('/'), ip.parse::<Ipv4Addr>()) else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

#[tokio::test]
async fn kwok_nodes_are_ready_tainted_and_have_pod_cidrs() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let nodes = Api::<Node>::all(cluster.client())
        .list(&ListParams::default().labels("type=kwok"))
        .await
        .unwrap();
    assert!(!nodes.items.is_empty(), "no node labelled type=kwok");
    let mut cidrs = Vec::new();
    for node in &nodes.items {
        let name = node.metadata.name.clone().unwrap();
        let spec = node.spec.clone().unwrap();
        let status = node.status.clone().unwrap();
        let ready = status.conditions.unwrap_or_default();
        assert!(
            ready
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            "{name} not Ready"
        );
        assert!(
            spec.taints
                .unwrap_or_default()
                .iter()
                .any(|t| t.key == "kwok.x-k8s.io/node" && t.effect == "NoSchedule"),
            "{name} lacks KWOK's taint"
        );
        let cidr = spec
            .pod_cidr
            .unwrap_or_else(|| panic!("{name} has no podCIDR"));
        assert!(
            in_cidr(cidr.split('/').next().unwrap(), "10.244.0.0/16"),
            "{name}: {cidr}"
        );
        cidrs.push(cidr);
        let allocatable = status.allocatable.unwrap_or_default();
        assert_eq!(quantity(&allocatable["pods"].0), 1000.0, "{name}");
    }
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(
        cidrs.len(),
        nodes.items.len(),
        "node IPAM handed out one podCIDR per node"
    );
}

#[tokio::test]
async fn a_deployment_gets_ready_pods_and_endpoints_that_follow_its_scale() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("smoke-scale").await.unwrap();
    let n = ns.name().to_string();
    cluster
        .apply_yaml(Some(&n), &web("web", 3).yaml())
        .await
        .unwrap();

    let node_cidrs: BTreeMap<String, String> = Api::<Node>::all(cluster.client())
        .list(&ListParams::default().labels("type=kwok"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|node| {
            (
                node.metadata.name.unwrap(),
                node.spec.unwrap().pod_cidr.unwrap_or_default(),
            )
        })
        .collect();

    for replicas in [3usize, 5, 0] {
        if replicas != 3 {
            cluster
                .apply_yaml(Some(&n), &web("web", replicas as u32).yaml())
                .await
                .unwrap();
        }
        let pods = wait_until(
            &format!("{replicas} ready pods of web"),
            CONVERGE,
            async || {
                let all = Api::<Pod>::namespaced(cluster.client(), &n)
                    .list(&ListParams::default())
                    .await
                    .ok()?;
                let ready = cluster.ready_pods(&n, "app=web").await.ok()?;
                // Scaling down is done when the extra pods are gone, not only unready.
                (ready.len() == replicas && all.items.len() == replicas).then_some(ready)
            },
        )
        .await
        .unwrap();
        for pod in &pods {
            let node = pod.spec.as_ref().unwrap().node_name.clone().unwrap();
            let ip = pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
            assert!(
                in_cidr(&ip, &node_cidrs[&node]),
                "pod IP {ip} outside {node}'s {}",
                node_cidrs[&node]
            );
        }
        let ips = pod_ips(&pods);
        let endpoints = wait_until(
            &format!("web's EndpointSlices list the {replicas} pods"),
            CONVERGE,
            async || {
                let addresses = cluster.endpoint_addresses(&n, "web").await.ok()?;
                (addresses == ips).then_some(addresses)
            },
        )
        .await
        .unwrap();
        assert_eq!(endpoints.len(), replicas);
    }
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_token_request_token_authenticates_and_rbac_forbids_other_namespaces() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("smoke-token").await.unwrap();
    let n = ns.name().to_string();
    cluster
        .apply_yaml(
            Some(&n),
            r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-reads-pods}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: reader}]
"#,
        )
        .await
        .unwrap();

    let reader = cluster.client_as(&n, "reader").await.unwrap();
    assert!(
        !format!("{reader:?}").contains(reader.token()),
        "Debug shows no token"
    );
    let review = Api::<SelfSubjectReview>::all(reader.client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some(format!("system:serviceaccount:{n}:reader").as_str())
    );
    assert!(
        user.groups
            .unwrap_or_default()
            .contains(&"system:serviceaccounts".to_string())
    );

    // The kubeconfig file a daemon would get says the same.
    let from_file = kube::config::Kubeconfig::read_from(reader.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(from_file, &Default::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, n);
    let file_client = kube::Client::try_from(config).unwrap();
    let review = Api::<SelfSubjectReview>::all(file_client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    assert_eq!(
        review.status.unwrap().user_info.unwrap().username,
        Some(reader.username())
    );

    // Granted in its namespace (RBAC is enforced as soon as its cache has the binding)...
    wait_until("the RoleBinding to take effect", CONVERGE, async || {
        Api::<Pod>::namespaced(file_client.clone(), &n)
            .list(&ListParams::default())
            .await
            .ok()
    })
    .await
    .unwrap();
    // ...and Forbidden anywhere else.
    let err = Api::<Pod>::namespaced(file_client, "kube-system")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert_eq!(status.reason, "Forbidden");
            assert!(
                status.message.contains(&reader.username()),
                "{}",
                status.message
            );
        }
        other => panic!("expected 403, got {other}"),
    }
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn an_eviction_waits_for_the_disruption_budget() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("smoke-evict").await.unwrap();
    let n = ns.name().to_string();
    let pdb = |min: u32| {
        format!(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: guarded}}\n\
             spec: {{minAvailable: {min}, selector: {{matchLabels: {{app: guarded}}}}}}\n"
        )
    };
    cluster
        .apply_yaml(Some(&n), &web("guarded", 3).yaml())
        .await
        .unwrap();
    cluster.apply_yaml(Some(&n), &pdb(3)).await.unwrap();
    let pdbs = Api::<PodDisruptionBudget>::namespaced(cluster.client(), &n);
    // Whether the disruption controller has seen this generation and counts 3 healthy pods
    // with `allowed` disruptions.
    let budget_allows = |pdb: &PodDisruptionBudget, allowed: i32| {
        pdb.status.as_ref().is_some_and(|status| {
            status.observed_generation == pdb.metadata.generation
                && status.current_healthy == Some(3)
                && status.disruptions_allowed == Some(allowed)
        })
    };
    wait_until("the budget to allow 0 disruptions", CONVERGE, async || {
        budget_allows(&pdbs.get("guarded").await.ok()?, 0).then_some(())
    })
    .await
    .unwrap();

    let victim = cluster.ready_pods(&n, "app=guarded").await.unwrap()[0]
        .metadata
        .name
        .clone()
        .unwrap();
    // Without kube's default retry layer, as `redline chaos` builds its client: with it,
    // the budget's 429 is retried (with backoff) under the call instead of returned, and
    // the eviction stalls for minutes.
    let pods = Api::<Pod>::namespaced(cluster.client_without_retry().await.unwrap(), &n);
    match pods.evict(&victim, &EvictParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 429, "{status:?}");
            assert!(
                status.message.contains("disruption budget"),
                "{}",
                status.message
            );
        }
        other => panic!("the budget should refuse the eviction: {other:?}"),
    }

    cluster.apply_yaml(Some(&n), &pdb(2)).await.unwrap();
    wait_until("the budget to allow 1 disruption", CONVERGE, async || {
        budget_allows(&pdbs.get("guarded").await.ok()?, 1).then_some(())
    })
    .await
    .unwrap();
    pods.evict(&victim, &EvictParams::default()).await.unwrap();
    // The ReplicaSet replaces the evicted pod.
    wait_until(
        "3 ready pods again, without the evicted one",
        CONVERGE,
        async || {
            let ready = cluster.ready_pods(&n, "app=guarded").await.ok()?;
            let all = pods.list(&ListParams::default()).await.ok()?;
            let gone = all
                .items
                .iter()
                .all(|p| p.metadata.name.as_deref() != Some(victim.as_str()));
            (ready.len() == 3 && gone).then_some(())
        },
    )
    .await
    .unwrap();
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn the_api_server_counts_exactly_the_requests_made() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("smoke-count").await.unwrap();
    // Nothing else in the cluster GETs PodTemplates, so their 404s are all ours.
    let labels = [
        ("resource", "podtemplates"),
        ("verb", "GET"),
        ("code", "404"),
    ];
    let templates =
        Api::<k8s_openapi::api::core::v1::PodTemplate>::namespaced(cluster.client(), ns.name());
    let before = cluster.apiserver_requests().await.unwrap();
    for _ in 0..7 {
        assert!(templates.get_opt("absent").await.unwrap().is_none());
    }
    // Counted as each request finishes, which may be just after its response is sent.
    let after = wait_until("7 requests counted", CONVERGE, async || {
        let now = cluster.apiserver_requests().await.ok()?;
        (now.since(&before, &labels) >= 7.0).then_some(now)
    })
    .await
    .unwrap();
    assert_eq!(after.since(&before, &labels), 7.0);
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn the_api_server_serves_a_gzipped_heap_profile_to_a_granted_token() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let pprof = cluster.apiserver_pprof().await.unwrap();
    assert!(!format!("{pprof:?}").contains(&pprof.bearer_token));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pprof.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();

    let anonymous = http.get(&pprof.heap_url).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        403,
        "profiles are not for anonymous callers"
    );

    let response = http
        .get(&pprof.heap_url)
        .bearer_auth(&pprof.bearer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
    let mut profile = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut profile)
        .unwrap();
    // A pprof Profile protobuf of a heap: its string table names the heap's sample types.
    assert!(profile.len() > 1000, "{} bytes", profile.len());
    let has = |needle: &[u8]| profile.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b"inuse_space") && has(b"alloc_objects"),
        "not a heap profile"
    );
}

/// `250m` / `251234567n` (cores) and `64Mi` / `65536Ki` (bytes) as numbers.
fn quantity(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("quantity {text:?}"));
    let scale = match unit {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => panic!("unit of {text:?}"),
    };
    number * scale
}

#[tokio::test]
async fn metrics_k8s_io_serves_the_usage_kwok_reports() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    if cluster
        .get_text("/apis/metrics.k8s.io/v1beta1")
        .await
        .is_err()
    {
        let why =
            "metrics.k8s.io is not served: start the cluster with METRICS=1 (up.sh's default)";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
        eprintln!("{why}; skipping");
        return;
    }
    let ns = cluster.namespace("smoke-metrics").await.unwrap();
    let n = ns.name().to_string();
    let busy = web("busy", 1)
        .annotation("kwok.x-k8s.io/usage-cpu", "250m")
        .annotation("kwok.x-k8s.io/usage-memory", "64Mi");
    cluster.apply_yaml(Some(&n), &busy.yaml()).await.unwrap();
    // metrics-server scrapes every 10 s and needs two scrapes for a CPU rate.
    let (cpu, memory) = wait_until(
        "PodMetrics for the busy pod",
        Duration::from_secs(180),
        async || {
            let text = cluster
                .get_text(&format!("/apis/metrics.k8s.io/v1beta1/namespaces/{n}/pods"))
                .await
                .ok()?;
            let list: serde_json::Value = serde_json::from_str(&text).ok()?;
            let usage = &list["items"].get(0)?["containers"].get(0)?["usage"];
            Some((
                quantity(usage["cpu"].as_str()?),
                quantity(usage["memory"].as_str()?),
            ))
        },
    )
    .await
    .unwrap();
    assert_eq!(memory, 64.0 * 1024.0 * 1024.0);
    assert!((0.2..0.3).contains(&cpu), "cpu {cpu} cores, annotated 250m");
    ns.delete().await.unwrap();
}
