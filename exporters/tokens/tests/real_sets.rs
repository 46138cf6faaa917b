//! What `redline tokens` does with the plain API, on the real control plane of
//! hack/cluster: cleanup removes only its own set, and bad requests (flags, a Secret that
//! is already there) fail before anything is created. The round trip with every log line
//! captured is `real_round_trip.rs`; injected 403s and latency are `cluster.rs`.
//!
//! Without REDLINE_TEST_KUBECONFIG every test prints one loud line and returns (under
//! CI=true it fails).

mod common;

use common::args;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::Api;
use kube::api::{ListParams, PostParams};
use redline_testkit_cluster::Cluster;
use redline_tokens::{Report, TokensError, run_with_client};

async fn run(cluster: &Cluster, argv: &[&str]) -> Result<Report, TokensError> {
    run_with_client(args(argv), cluster.client()).await
}

/// The ServiceAccounts of `ns` but the one the real server makes in every namespace.
async fn accounts(cluster: &Cluster, ns: &str) -> Vec<String> {
    let mut names: Vec<String> = Api::<ServiceAccount>::namespaced(cluster.client(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|sa| sa.metadata.name)
        .filter(|n| n != "default")
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn cleanup_touches_only_its_own_set() {
    let Some((cluster, test_ns)) = Cluster::shared_with_namespace("tokens-sets").await else {
        return;
    };
    let ns = test_ns.name();
    let dir = tempfile::tempdir().unwrap();
    for set in ["a", "b"] {
        let out = dir.path().join(set);
        let argv = [
            "create",
            "-n",
            ns,
            "--set",
            set,
            "--count",
            "2",
            "-o",
            out.to_str().unwrap(),
        ];
        run(&cluster, &argv).await.unwrap();
    }
    // An unrelated ServiceAccount in the same namespace.
    Api::<ServiceAccount>::namespaced(cluster.client(), ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "other"}})).unwrap(),
        )
        .await
        .unwrap();
    run(&cluster, &["cleanup", "-n", ns, "--set", "a"])
        .await
        .unwrap();
    assert_eq!(
        accounts(&cluster, ns).await,
        ["b-free-1", "b-free-2", "other"]
    );
    // The file-only set has no Secret, so its status knows no expiry.
    let Report::Status(s) = run(&cluster, &["status", "-n", ns, "--set", "b"])
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(s.service_accounts, [("free".into(), 2)]);
    assert!(s.nearest_expiry().is_none());
    assert!(s.to_string().contains("unknown"));
}

#[tokio::test]
async fn bad_requests_fail_before_anything_is_created() {
    let Some((cluster, test_ns)) = Cluster::shared_with_namespace("tokens-bad").await else {
        return;
    };
    let ns = test_ns.name();
    for (argv, needle) in [
        (
            &["create", "-n", ns, "--count", "2"][..],
            "--secret NAME and/or --output FILE",
        ),
        (
            &["create", "-n", ns, "-o", "/tmp/x", "--expiry", "5m"][..],
            "minimum is 10m",
        ),
        (
            &["create", "-n", ns, "-o", "/tmp/x", "--count", "0"][..],
            "nothing to create",
        ),
    ] {
        let e = run(&cluster, argv).await.unwrap_err();
        assert!(e.to_string().contains(needle), "{argv:?}: {e}");
    }
    assert!(accounts(&cluster, ns).await.is_empty());

    // An existing Secret is never overwritten, and nothing is created.
    let secrets = Api::<Secret>::namespaced(cluster.client(), ns);
    let taken: Secret = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "taken"}, "stringData": {"k": "mine"}}),
    )
    .unwrap();
    secrets
        .create(&PostParams::default(), &taken)
        .await
        .unwrap();
    let e = run(&cluster, &["create", "-n", ns, "--secret", "taken"])
        .await
        .unwrap_err();
    assert!(matches!(e, TokensError::SecretExists { .. }), "{e}");
    assert!(accounts(&cluster, ns).await.is_empty());
    let kept = secrets.get("taken").await.unwrap();
    assert_eq!(kept.data.unwrap()["k"].0, b"mine");
}
