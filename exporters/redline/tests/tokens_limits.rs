//! `redline tokens limits` as the chart's sidecar runs it: the real binary raises the
//! MaaS seed's Kuadrant limits on the real control plane of hack/cluster (published CRDs,
//! hack/kuadrant-crds.sh), holds them, and on a real SIGTERM — what the kubelet sends when
//! the load Job's container has ended — or SIGINT (Ctrl-C) restores the exact originals
//! and exits 0.
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns (under CI=true
//! it fails).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redline_testkit_cluster::{
    Cluster, SEED_RATE_LIMIT_POLICY, SEED_TOKEN_RATE_LIMIT_POLICY, wait_until,
};
use serde_json::{Value, json};

async fn state(cluster: &Cluster, ns: &str, kinds: &[(String, String)]) -> Value {
    let mut out = json!({});
    for (kind, name) in [
        ("RateLimitPolicy", SEED_RATE_LIMIT_POLICY),
        ("TokenRateLimitPolicy", SEED_TOKEN_RATE_LIMIT_POLICY),
    ] {
        let api_version = &kinds.iter().find(|(k, _)| k == kind).unwrap().1;
        let o = cluster.get_json(api_version, kind, ns, name).await.unwrap();
        out[kind] = json!({"spec": o["spec"], "annotations": o["metadata"]["annotations"]});
    }
    out
}

#[tokio::test]
async fn sigterm_and_sigint_restore_the_originals() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let (ns, kinds) = cluster
        .seeded_kuadrant_namespace("limits-signal")
        .await
        .unwrap();
    let before = state(&cluster, ns.name(), &kinds).await;

    for signal in ["TERM", "INT"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redline"))
            .args([
                "tokens",
                "limits",
                "-n",
                ns.name(),
                "--raise",
                "ratelimitpolicy/gateway-rate-limits:free=10000,ratelimitpolicy/gateway-rate-limits:premium=10000",
                "--raise",
                "tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000",
                "--admin-addr",
                "127.0.0.1:0",
            ])
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .env("REDLINE_LOG_FORMAT", "text")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let raised = wait_until(
            "the limits raised by the binary",
            Duration::from_secs(60),
            async || {
                let now = state(&cluster, ns.name(), &kinds).await;
                (now["TokenRateLimitPolicy"]["spec"]["limits"]["free-user-tokens"]["rates"][0]
                        ["limit"]
                        == json!(10_000_000))
                    .then_some(now)
            },
        )
        .await;
        if raised.is_err() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "never raised; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let raised = raised.unwrap();
        assert_eq!(
            raised["RateLimitPolicy"]["spec"]["limits"]["premium"]["rates"],
            json!([{"limit": 10000, "window": "2m"}])
        );
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "SIG{signal}: still running after 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "SIG{signal}: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("restored to the originals: the run was stopped"),
            "{stdout}"
        );
        assert!(
            stdout.contains("spec.limits.free-user-tokens.rates[0]"),
            "{stdout}"
        );
        assert_eq!(
            state(&cluster, ns.name(), &kinds).await,
            before,
            "SIG{signal}: the exact originals are back"
        );
    }
    ns.delete().await.unwrap();
}
