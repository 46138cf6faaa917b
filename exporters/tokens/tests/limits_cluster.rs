//! `redline tokens limits` against the real control plane of hack/cluster, with Kuadrant's
//! published CRDs installed (hack/kuadrant-crds.sh): the raise is stored by the real API
//! server after its schema validation, the restore puts back the exact originals after a
//! run that was stopped (what SIGTERM does through the runtime's shutdown token; the real
//! signal to the real binary is exporters/redline/tests/tokens_limits.rs) and after a run
//! command exited, and a value the schema refuses fails naming the field, with what was
//! already raised put back.
//!
//! Without REDLINE_TEST_KUBECONFIG the tests print one loud line and return (under CI=true
//! they fail).

use std::time::Duration;

use redline_testkit_cluster::{
    Cluster, SEED_RATE_LIMIT_POLICY, SEED_TOKEN_RATE_LIMIT_POLICY, TestNamespace, wait_until,
};
use redline_tokens::limits::{
    Ended, Hold, LimitsError, LimitsReport, ORIGINAL_ANNOTATION, Raise, parse_raise,
    raise_hold_restore, restore_left_raised,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const RLP: &str = SEED_RATE_LIMIT_POLICY;
const TRLP: &str = SEED_TOKEN_RATE_LIMIT_POLICY;

/// The seed's raise: 10000 requests per 2 min, 10M tokens per minute.
fn seed_raises() -> Vec<Raise> {
    [
        "ratelimitpolicy/gateway-rate-limits:free=10000",
        "ratelimitpolicy/gateway-rate-limits:premium=10000",
        "ratelimitpolicy/gateway-rate-limits:enterprise=10000",
        "tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000",
        "tokenratelimitpolicy/gateway-token-rate-limits:premium-user-tokens=10000000",
        "tokenratelimitpolicy/gateway-token-rate-limits:enterprise-user-tokens=10000000",
    ]
    .iter()
    .map(|s| parse_raise(s).unwrap())
    .collect()
}

struct Setup {
    cluster: Cluster,
    ns: TestNamespace,
    kinds: Vec<(String, String)>,
    /// Both policies as seeded, before the test raised anything: what every restore must
    /// put back.
    before: Value,
}

async fn setup(prefix: &str) -> Option<Setup> {
    let cluster = Cluster::shared().await?;
    let (ns, kinds) = cluster.seeded_kuadrant_namespace(prefix).await.unwrap();
    let mut s = Setup {
        cluster,
        ns,
        kinds,
        before: Value::Null,
    };
    s.before = s.state().await;
    Some(s)
}

impl Setup {
    async fn get(&self, kind: &str, name: &str) -> Value {
        let api_version = &self.kinds.iter().find(|(k, _)| k == kind).unwrap().1;
        self.cluster
            .get_json(api_version, kind, self.ns.name(), name)
            .await
            .unwrap()
    }

    /// Both policies' spec and annotations: what a restore must put back exactly.
    async fn state(&self) -> Value {
        let mut out = json!({});
        for (kind, name) in [("RateLimitPolicy", RLP), ("TokenRateLimitPolicy", TRLP)] {
            let o = self.get(kind, name).await;
            out[kind] = json!({
                "spec": o["spec"],
                "annotations": o["metadata"].get("annotations").cloned().unwrap_or(json!({})),
            });
        }
        out
    }

    /// Starts a raise, hold and restore on this namespace in its own task, as the daemon
    /// runs it, so the test can watch the cluster meanwhile.
    fn spawn_run(
        &self,
        raises: Vec<Raise>,
        hold: Hold,
        stop: CancellationToken,
        on_raised: impl FnOnce() + Send + 'static,
    ) -> JoinHandle<Result<LimitsReport, LimitsError>> {
        let client = self.cluster.client();
        let ns = self.ns.name().to_string();
        tokio::spawn(async move {
            raise_hold_restore(client, &ns, &raises, &hold, &stop, on_raised).await
        })
    }

    /// Runs a raise that must fail before anything is reported raised; returns its error.
    async fn refused(&self, raises: &[Raise]) -> String {
        raise_hold_restore(
            self.cluster.client(),
            self.ns.name(),
            raises,
            &Hold::default(),
            &CancellationToken::new(),
            || panic!("must not report raised"),
        )
        .await
        .unwrap_err()
        .to_string()
    }

    async fn first_limit(&self, kind: &str, name: &str, limit: &str) -> Value {
        self.get(kind, name).await["spec"]["limits"][limit]["rates"][0]["limit"].clone()
    }

    /// Both policies are exactly as seeded again.
    async fn assert_restored(&self, why: &str) {
        assert_eq!(self.state().await, self.before, "{why}");
    }

    /// The test's end: everything restored, then its namespace removed.
    async fn restored_and_removed(self, why: &str) {
        self.assert_restored(why).await;
        self.ns.delete().await.unwrap();
    }
}

#[tokio::test]
async fn raise_is_stored_by_the_real_server_and_a_stop_restores_the_exact_originals() {
    let Some(s) = setup("limits-stop").await else {
        return;
    };
    let stop = CancellationToken::new();
    let (raised_tx, raised_rx) = tokio::sync::oneshot::channel();
    let run = s.spawn_run(seed_raises(), Hold::default(), stop.clone(), || {
        raised_tx.send(()).unwrap()
    });
    tokio::time::timeout(Duration::from_secs(60), raised_rx)
        .await
        .expect("raised within 60 s")
        .unwrap();
    // Read back from the server: what its schema validation let through and stored.
    for limit in ["free", "premium", "enterprise"] {
        assert_eq!(
            s.first_limit("RateLimitPolicy", RLP, limit).await,
            json!(10000),
            "{limit}"
        );
    }
    for limit in [
        "free-user-tokens",
        "premium-user-tokens",
        "enterprise-user-tokens",
    ] {
        assert_eq!(
            s.first_limit("TokenRateLimitPolicy", TRLP, limit).await,
            json!(10_000_000),
            "{limit}"
        );
    }
    let raised = s.get("RateLimitPolicy", RLP).await;
    assert_eq!(
        raised["spec"]["limits"]["free"]["rates"],
        json!([{"limit": 10000, "window": "2m"}, {"limit": 100, "window": "1h"}]),
        "only the first rate is raised"
    );
    assert_eq!(
        raised["spec"]["limits"]["free"]["when"],
        s.before["RateLimitPolicy"]["spec"]["limits"]["free"]["when"]
    );
    assert!(raised["metadata"]["annotations"][ORIGINAL_ANNOTATION].is_string());
    assert_eq!(raised["metadata"]["annotations"]["team"], json!("maas"));

    stop.cancel(); // what SIGTERM/SIGINT does through the runtime's shutdown token
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("restored within 60 s")
        .unwrap()
        .unwrap();
    assert_eq!(report.ended, Ended::Stopped);
    assert_eq!(
        report
            .policies
            .iter()
            .map(|p| p.changes.len())
            .sum::<usize>(),
        6
    );
    let text = report.to_string();
    assert!(
        text.contains("spec.limits.free.rates[0]") && text.contains("5 / 2m"),
        "{text}"
    );
    s.restored_and_removed("the restore put back exactly the originals")
        .await;
}

#[tokio::test]
async fn the_run_command_is_held_around_and_its_exit_restores() {
    let Some(s) = setup("limits-cmd").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let finish = dir.path().join("finish");
    // The "run": says it started, then waits (at most 60 s) for the test to let it end.
    let script = format!(
        "touch {}; i=0; while [ ! -e {} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 3",
        started.display(),
        finish.display()
    );
    let hold = Hold {
        command: vec!["sh".into(), "-c".into(), script],
        duration: None,
        grace: Duration::from_secs(10),
    };
    let run = s.spawn_run(seed_raises(), hold, CancellationToken::new(), || {});
    wait_until(
        "the run command started",
        Duration::from_secs(60),
        async || started.exists().then_some(()),
    )
    .await
    .unwrap();
    assert_eq!(
        s.first_limit("RateLimitPolicy", RLP, "premium").await,
        json!(10000)
    );
    std::fs::write(&finish, "").unwrap();
    let result = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("ended within 60 s")
        .unwrap();
    // The run failed (exit 3): the error says so, and the limits are restored anyway.
    let e = result.unwrap_err();
    assert!(matches!(e, LimitsError::CommandFailed { .. }), "{e}");
    assert!(e.to_string().contains("restored"), "{e}");
    s.restored_and_removed("the command's exit restored the originals")
        .await;
}

#[tokio::test]
async fn a_value_the_schema_refuses_names_the_field_and_undoes_the_raise_before_it() {
    let Some(s) = setup("limits-bad").await else {
        return;
    };
    let raises = vec![
        parse_raise("rlp/gateway-rate-limits:free=10000").unwrap(),
        // Kuadrant's window pattern is ^([0-9]{1,5}(h|m|s|ms)){1,4}$.
        parse_raise("trlp/gateway-token-rate-limits:free-user-tokens=10000000/2 minutes").unwrap(),
    ];
    let e = s.refused(&raises).await;
    assert!(
        e.contains("spec.limits.free-user-tokens.rates[0].window"),
        "{e}"
    );
    assert!(
        e.contains("tokenratelimitpolicy/gateway-token-rate-limits"),
        "{e}"
    );
    assert!(e.contains(s.ns.name()), "{e}");
    s.assert_restored("the RateLimitPolicy raised first was put back")
        .await;

    // A limit the policy does not have: named, with the ones it has.
    let e = s
        .refused(&[parse_raise("rlp/gateway-rate-limits:gold=1").unwrap()])
        .await;
    assert!(
        e.contains("spec.limits.gold: no such limit (the policy has: enterprise, free, premium)"),
        "{e}"
    );
    s.ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_raise_left_by_a_killed_run_is_refused_twice_and_undone_by_restore() {
    let Some(s) = setup("limits-left").await else {
        return;
    };
    // A run that raised and then "died": its hold future is dropped before any restore.
    let raises = seed_raises();
    let (raised_tx, raised_rx) = tokio::sync::oneshot::channel();
    let run = s.spawn_run(
        raises.clone(),
        Hold::default(),
        CancellationToken::new(),
        || raised_tx.send(()).unwrap(),
    );
    tokio::time::timeout(Duration::from_secs(60), raised_rx)
        .await
        .unwrap()
        .unwrap();
    run.abort();
    let _ = run.await;
    assert_eq!(
        s.first_limit("RateLimitPolicy", RLP, "free").await,
        json!(10000)
    );

    // A second run must not take the raised values for the originals.
    let e = s.refused(&raises).await;
    assert!(e.contains("already raised"), "{e}");

    let policies: Vec<_> = raises
        .iter()
        .map(|r| r.policy.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    restore_left_raised(s.cluster.client(), s.ns.name(), &policies)
        .await
        .unwrap();
    s.restored_and_removed("restore undid what the killed run left raised")
        .await;
}
