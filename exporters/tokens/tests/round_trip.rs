//! The create/status/cleanup round trip, with every log line captured. Alone in its test
//! binary: tracing caches callsite interest globally, so a test on another thread without
//! a subscriber could silence callsites for this one's thread-local subscriber.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use clap::Parser;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use redline_testkit_kube::{KubeApiServer, Verb};
use redline_tokens::{Report, TokensArgs, TokensError, run_with_client};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TokensArgs,
}

fn args(argv: &[&str]) -> TokensArgs {
    Cli::try_parse_from(std::iter::once("tokens").chain(argv.iter().copied()))
        .unwrap()
        .args
}

async fn run(server: &KubeApiServer, argv: &[&str]) -> Result<Report, TokensError> {
    run_with_client(args(argv), server.client().unwrap()).await
}

/// Everything written through `tracing` while the guard lives (current-thread runtime,
/// so the API server's and kube's own events land here too).
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

fn data_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (t, k) = l.split_once(',').expect("tier,token");
            (t.to_string(), k.to_string())
        })
        .collect()
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

    let server = KubeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    let file_s = file.to_str().unwrap();
    let mut printed = String::new();

    let created = run(
        &server,
        &[
            "create",
            "-n",
            "maas",
            "--set",
            "scale",
            "--count",
            "3",
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
            ("free", 3, 3),
            ("premium", 2, 2),
            ("enterprise", 1, 1),
            ("all", 6, 6)
        ]
    );
    assert!(c.total().unwrap().max >= c.total().unwrap().p50);

    // The file: 0600, one `tier,token` line per token, each a live token of the
    // ServiceAccount of that tier.
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = data_lines(&text);
    assert_eq!(lines.len(), 6);
    let tiers: Vec<_> = lines.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        tiers,
        ["free", "free", "free", "premium", "premium", "enterprise"]
    );
    for (tier, token) in &lines {
        let issued = server.lookup_token(token).expect("issued by the server");
        assert_eq!(issued.namespace, "maas");
        let sa: ServiceAccount = server.get("maas", &issued.service_account).unwrap();
        let labels = sa.metadata.labels.unwrap();
        assert_eq!(labels["redline.dev/tier"], *tier);
        assert_eq!(labels["redline.dev/tokens"], "scale");
        let lifetime = issued.expires_at - issued.issued_at;
        assert_eq!(lifetime, 3600);
    }
    // The Secret holds the same lines.
    let secret: Secret = server.get("maas", "scale-tokens").unwrap();
    let data = &secret.data.unwrap()["tokens.csv"].0;
    assert_eq!(data_lines(&String::from_utf8_lossy(data)), lines);

    let status = run(&server, &["status", "-n", "maas", "--set", "scale"])
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
            ("free".into(), 3),
            ("premium".into(), 2)
        ]
    );
    assert_eq!(s.secrets.len(), 1);
    let expiry = s.nearest_expiry().expect("expiry from the Secret");
    let left = expiry.as_second() - s.now.as_second();
    assert!((3500..=3600).contains(&left), "{left}");

    // A second create of the same set is refused before touching anything.
    let before = server.request_count(Verb::Create, "serviceaccounts");
    let again = run(
        &server,
        &["create", "-n", "maas", "--set", "scale", "-o", file_s],
    )
    .await;
    let e = again.unwrap_err();
    printed += &format!("{e}\n{e:?}\n");
    assert!(matches!(e, TokensError::SetExists { count: 6, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("redline tokens cleanup --set scale -n maas"),
        "{e}"
    );
    assert_eq!(
        server.request_count(Verb::Create, "serviceaccounts"),
        before
    );

    let cleaned = run(
        &server,
        &["cleanup", "-n", "maas", "--set", "scale", "-o", file_s],
    )
    .await
    .unwrap();
    printed += &format!("{cleaned}\n{cleaned:?}\n");
    let Report::Cleanup(r) = &cleaned else {
        panic!("{cleaned:?}")
    };
    assert_eq!((r.service_accounts, r.secrets), (6, 1));
    assert!(server.list::<ServiceAccount>(Some("maas")).is_empty());
    assert!(server.list::<Secret>(Some("maas")).is_empty());
    assert!(!file.exists());
    // Tokens of deleted ServiceAccounts no longer authenticate (the testkit's TokenReview).

    let twice = run(
        &server,
        &["cleanup", "-n", "maas", "--set", "scale", "-o", file_s],
    )
    .await
    .unwrap();
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
}
