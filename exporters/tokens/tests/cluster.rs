//! `redline tokens` through the real kube client against the in-process API server: what a
//! real server cannot show on demand (a 403 on some token requests, a fixed latency). The
//! plain API runs against the real control plane: `real_round_trip.rs`, `real_sets.rs`.

mod common;

use std::time::Duration;

use common::{args, data_lines};
use redline_testkit_kube::{Fault, FaultKind, KubeApiServer, Verb};
use redline_testkit_prometheus::by_label;
use redline_tokens::{Report, TokensError, run_with_client};

async fn run(server: &KubeApiServer, argv: &[&str]) -> Result<Report, TokensError> {
    run_with_client(args(argv), server.client().unwrap()).await
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
    assert_eq!(
        by_label(&series, "tier"),
        [("free".into(), 3.0), ("premium".into(), 1.0)]
    );
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
