//! The create/status/cleanup round trip against the real control plane of hack/cluster,
//! with every log line captured: ServiceAccounts made by the real API server, tokens
//! signed by its real issuer through TokenRequest and verified by TokenReview (and refused
//! once their account is gone), the creation time of each measured. Alone in its test
//! binary: tracing caches callsite interest globally, so a test on another thread without
//! a subscriber could silence callsites for this one's thread-local subscriber; and the
//! API server's request counts seen here are this test's alone.
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns (under
//! CI=true it fails). The in-process imitation keeps what a real server cannot show on
//! demand (injected 403s): `cluster.rs`.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{args, data_lines};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::Api;
use kube::api::{ListParams, PostParams};
use redline_testkit_cluster::Cluster;
use redline_tokens::{Report, TokensError, run_with_client};

async fn run(cluster: &Cluster, argv: &[&str]) -> Result<Report, TokensError> {
    run_with_client(args(argv), cluster.client()).await
}

/// The API server's TokenReview of `token` (as admin): the user it authenticates as.
async fn review(cluster: &Cluster, token: &str) -> Option<String> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_string(),
            ..TokenReviewSpec::default()
        },
        ..TokenReview::default()
    };
    let status = Api::<TokenReview>::all(cluster.client())
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap();
    if status.authenticated != Some(true) {
        return None;
    }
    status.user.and_then(|u| u.username)
}

/// `exp - iat` from a JWT's claims.
fn lifetime(token: &str) -> i64 {
    let claims = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["exp"].as_i64().unwrap() - v["iat"].as_i64().unwrap()
}

/// Everything written through `tracing` while the guard lives (current-thread runtime,
/// so kube's own events land here too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn create_status_cleanup_round_trip_never_shows_a_token() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let test_ns = cluster.namespace("tokens").await.unwrap();
    let ns = test_ns.name().to_string();
    let ns = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    let file_s = file.to_str().unwrap();
    let mut printed = String::new();

    let created = run(
        &cluster,
        &[
            "create",
            "-n",
            ns,
            "--set",
            "scale",
            "--count",
            "20",
            "--tier",
            "free",
            "--tier",
            "premium=2",
            "--tier",
            "enterprise=1",
            "--expiry",
            "1h",
            "--secret",
            "scale-tokens",
            "--output",
            file_s,
            "--concurrency",
            "3",
        ],
    )
    .await
    .unwrap();
    printed += &format!("{created}\n{created:?}\n");
    let Report::Create(c) = &created else {
        panic!("{created:?}")
    };
    assert_eq!(c.failed, 0);
    let counts: Vec<_> = c
        .tiers
        .iter()
        .map(|t| (t.tier.as_str(), t.service_accounts, t.tokens))
        .collect();
    assert_eq!(
        counts,
        [
            ("free", 20, 20),
            ("premium", 2, 2),
            ("enterprise", 1, 1),
            ("all", 23, 23)
        ]
    );
    let total = c.total().unwrap();
    assert!(total.max >= total.p50 && total.p50 > std::time::Duration::ZERO);
    println!(
        "tokens: {} ServiceAccounts and tokens in {:.2} s = {:.1} tokens/s; \
         ServiceAccount creation p50 {:?}, p95 {:?}, max {:?}",
        total.tokens,
        c.elapsed.as_secs_f64(),
        total.tokens as f64 / c.elapsed.as_secs_f64(),
        total.p50,
        total.p95,
        total.max
    );

    // The file: 0600, one `tier,token` line per token, each a live token of the
    // ServiceAccount of that tier.
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = data_lines(&text);
    assert_eq!(lines.len(), 23);
    let tiers: Vec<_> = lines.iter().map(|(t, _)| t.as_str()).collect();
    let mut want = vec!["free"; 20];
    want.extend(["premium", "premium", "enterprise"]);
    assert_eq!(tiers, want);
    let accounts = Api::<ServiceAccount>::namespaced(cluster.client(), ns);
    let secrets = Api::<Secret>::namespaced(cluster.client(), ns);
    let prefix = format!("system:serviceaccount:{ns}:");
    for (tier, token) in &lines {
        let user = review(&cluster, token)
            .await
            .expect("the real issuer's token authenticates");
        let name = user
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{user}"));
        let sa = accounts.get(name).await.unwrap();
        let labels = sa.metadata.labels.unwrap();
        assert_eq!(labels["redline.dev/tier"], *tier);
        assert_eq!(labels["redline.dev/tokens"], "scale");
        assert_eq!(lifetime(token), 3600);
    }
    // The Secret holds the same lines.
    let secret = secrets.get("scale-tokens").await.unwrap();
    let data = &secret.data.unwrap()["tokens.csv"].0;
    assert_eq!(data_lines(&String::from_utf8_lossy(data)), lines);

    let status = run(&cluster, &["status", "-n", ns, "--set", "scale"])
        .await
        .unwrap();
    printed += &format!("{status}\n{status:?}\n");
    let Report::Status(s) = &status else {
        panic!("{status:?}")
    };
    assert_eq!(
        s.service_accounts,
        [
            ("enterprise".into(), 1),
            ("free".into(), 20),
            ("premium".into(), 2)
        ]
    );
    assert_eq!(s.secrets.len(), 1);
    let expiry = s.nearest_expiry().expect("expiry from the Secret");
    let left = expiry.as_second() - s.now.as_second();
    assert!((3500..=3600).contains(&left), "{left}");

    // A second create of the same set is refused before touching anything.
    let creates = [("resource", "serviceaccounts"), ("verb", "POST")];
    let before = cluster.apiserver_requests().await.unwrap();
    let again = run(
        &cluster,
        &["create", "-n", ns, "--set", "scale", "-o", file_s],
    )
    .await;
    let e = again.unwrap_err();
    printed += &format!("{e}\n{e:?}\n");
    assert!(matches!(e, TokensError::SetExists { count: 23, .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("redline tokens cleanup --set scale -n {ns}")),
        "{e}"
    );
    let after = cluster.apiserver_requests().await.unwrap();
    assert_eq!(after.since(&before, &creates), 0.0);

    // The same cleanup twice: the second finds nothing left to remove.
    let cleanup = async || {
        run(
            &cluster,
            &["cleanup", "-n", ns, "--set", "scale", "-o", file_s],
        )
        .await
        .unwrap()
    };
    let cleaned = cleanup().await;
    printed += &format!("{cleaned}\n{cleaned:?}\n");
    let Report::Cleanup(r) = &cleaned else {
        panic!("{cleaned:?}")
    };
    assert_eq!((r.service_accounts, r.secrets), (23, 1));
    let set = ListParams::default().labels("redline.dev/tokens=scale");
    assert!(accounts.list(&set).await.unwrap().items.is_empty());
    assert!(secrets.list(&set).await.unwrap().items.is_empty());
    assert!(secrets.get_opt("scale-tokens").await.unwrap().is_none());
    // The namespace's own account is untouched.
    assert!(accounts.get_opt("default").await.unwrap().is_some());
    assert!(!file.exists());
    // Tokens of deleted ServiceAccounts stop authenticating: the issuer binds them to the
    // account's UID. Not at once: the API server caches a token's successful
    // authentication (10 s here, measured at 9.9 s), so the test waits, bounded.
    let deleted = std::time::Instant::now();
    for (_, token) in &lines {
        redline_testkit_cluster::wait_until(
            "the token of a deleted account refused",
            std::time::Duration::from_secs(60),
            async || review(&cluster, token).await.is_none().then_some(()),
        )
        .await
        .unwrap();
    }
    println!(
        "tokens: every token refused {:.2} s after its account was deleted",
        deleted.elapsed().as_secs_f64()
    );

    let twice = cleanup().await;
    printed += &format!("{twice}\n");
    let Report::Cleanup(r) = &twice else { panic!() };
    assert_eq!(
        (r.service_accounts, r.secrets, r.file_removed.clone()),
        (0, 0, None)
    );

    let logged = logs.text();
    assert!(
        logged.contains("creating tokens"),
        "the capture works: {logged}"
    );
    for (_, token) in &lines {
        let claims = token.split('.').nth(1).unwrap();
        for (what, text) in [("output", &printed), ("logs", &logged)] {
            assert!(
                !text.contains(token.as_str()),
                "a token appears in the {what}"
            );
            assert!(
                !text.contains(claims),
                "a token's claims appear in the {what}"
            );
        }
    }
    test_ns.delete().await.unwrap();
}
