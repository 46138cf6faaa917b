//! `redline tokens` through the real kube client against the in-process API server.

mod common;

use std::time::Duration;

use common::{args, data_lines};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use redline_testkit_kube::{Fault, FaultKind, KubeApiServer, Verb};
use redline_tokens::{Report, TokensError, run_with_client};

async fn run(server: &KubeApiServer, argv: &[&str]) -> Result<Report, TokensError> {
    run_with_client(args(argv), server.client().unwrap()).await
}

#[tokio::test]
async fn cleanup_touches_only_its_own_set() {
    let server = KubeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for set in ["a", "b"] {
        let out = dir.path().join(set);
        run(
            &server,
            &[
                "create",
                "-n",
                "ns",
                "--set",
                set,
                "--count",
                "2",
                "-o",
                out.to_str().unwrap(),
            ],
        )
        .await
        .unwrap();
    }
    // An unrelated ServiceAccount in the same namespace.
    server
        .insert(&ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some("default".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    run(&server, &["cleanup", "-n", "ns", "--set", "a"])
        .await
        .unwrap();
    let mut left: Vec<String> = server
        .list::<ServiceAccount>(Some("ns"))
        .into_iter()
        .filter_map(|sa| sa.metadata.name)
        .collect();
    left.sort();
    assert_eq!(left, ["b-free-1", "b-free-2", "default"]);
    // The file-only set has no Secret, so its status knows no expiry.
    let Report::Status(s) = run(&server, &["status", "-n", "ns", "--set", "b"])
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
async fn failed_token_requests_are_counted_and_the_rest_written() {
    let server = KubeApiServer::start().await.unwrap();
    server.inject(
        Fault::new(
            FaultKind::Status {
                code: 403,
                reason: "Forbidden".into(),
            },
            2,
        )
        .verb(Verb::Create)
        .resource("serviceaccounts/token"),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.csv");
    let report = run(
        &server,
        &[
            "create",
            "-n",
            "ns",
            "--count",
            "5",
            "--concurrency",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    let Report::Create(c) = report else { panic!() };
    assert_eq!(c.failed, 2);
    assert_eq!(c.errors.len(), 2);
    assert!(
        c.errors[0].contains("TokenRequest for redline-free-"),
        "{:?}",
        c.errors
    );
    let total = c.total().unwrap();
    assert_eq!((total.service_accounts, total.tokens), (5, 3));
    assert_eq!(data_lines(&std::fs::read_to_string(&out).unwrap()).len(), 3);
    assert!(c.to_string().contains("2 failed"));
}

#[tokio::test]
async fn bad_requests_fail_before_any_api_call() {
    let server = KubeApiServer::start().await.unwrap();
    for (argv, needle) in [
        (
            &["create", "--count", "2"][..],
            "--secret NAME and/or --output FILE",
        ),
        (
            &["create", "-o", "/tmp/x", "--expiry", "5m"][..],
            "minimum is 10m",
        ),
        (
            &["create", "-o", "/tmp/x", "--count", "0"][..],
            "nothing to create",
        ),
    ] {
        let e = run(&server, argv).await.unwrap_err();
        assert!(e.to_string().contains(needle), "{argv:?}: {e}");
    }
    assert_eq!(server.request_count(Verb::List, "serviceaccounts"), 0);
    assert_eq!(server.request_count(Verb::Create, "serviceaccounts"), 0);

    // An existing Secret is never overwritten, and nothing is created.
    server
        .insert(&Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("taken".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    let e = run(&server, &["create", "-n", "ns", "--secret", "taken"])
        .await
        .unwrap_err();
    assert!(matches!(e, TokensError::SecretExists { .. }), "{e}");
    assert!(server.list::<ServiceAccount>(Some("ns")).is_empty());
}

#[tokio::test]
async fn creation_times_reach_prometheus_through_remote_write() {
    let prom = redline_testkit_prometheus::Prometheus::start()
        .await
        .unwrap();
    let server = KubeApiServer::start().await.unwrap();
    // 20 ms per request makes every creation land above the 0.01 s bucket.
    server.set_latency(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.csv");
    let write_url = prom.write_url();
    let report = run(
        &server,
        &[
            "create",
            "-n",
            "ns",
            "--tier",
            "free=3",
            "--tier",
            "premium=1",
            "-o",
            out.to_str().unwrap(),
            "--remote-write-url",
            &write_url,
            "--testid",
            "tok1",
            "--admin-addr",
            "127.0.0.1:0",
            "--push-interval",
            "200ms",
        ],
    )
    .await
    .unwrap();
    let Report::Create(c) = report else { panic!() };
    assert!(c.total().unwrap().p50 >= Duration::from_millis(20));

    // The run ended with staleness markers, so read the last values over a window.
    let q = r#"sum by (tier) (max_over_time(redline_tokens_serviceaccount_create_duration_seconds_count{testid="tok1"}[5m]))"#;
    let series = prom
        .wait_for(q, Duration::from_secs(10), |s| s.len() == 2)
        .await
        .unwrap();
    let mut got: Vec<(String, f64)> = series
        .iter()
        .map(|s| (s.label("tier").unwrap().to_string(), s.float()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, [("free".into(), 3.0), ("premium".into(), 1.0)]);
    let fast = prom
        .scalar(r#"sum(max_over_time(redline_tokens_serviceaccount_create_duration_seconds_bucket{testid="tok1",le="0.01"}[5m]))"#)
        .await
        .unwrap();
    assert_eq!(fast, Some(0.0));
    let issued = prom
        .scalar(r#"sum(max_over_time(redline_tokens_issued_total{testid="tok1"}[5m]))"#)
        .await
        .unwrap();
    assert_eq!(issued, Some(4.0));
}
