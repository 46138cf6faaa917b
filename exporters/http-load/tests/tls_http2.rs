//! The client against a real TLS and HTTP/2 server: nginx on loopback with a self-signed
//! certificate made in the test. https with `insecureSkipTlsVerify` over HTTP/1.1 and over h2
//! (ALPN), h2c with prior knowledge, and https without it failing with reason `tls`. nginx
//! answers with `$server_protocol`, so the checks prove which protocol was really spoken.
//! Skipped, with the reason printed, only when nginx or openssl is not installed.

mod common;

use std::time::Duration;

use common::nginx::Nginx;
use common::{Run, run_on};
use redline_http_load::client::{self, ClientConfig};
use redline_http_load::metrics::ErrorReason;

fn nginx_or_skip(test: &str) -> Option<Nginx> {
    match Nginx::start() {
        Ok(n) => Some(n),
        Err(e) => {
            eprintln!("SKIP {test}: {e}");
            None
        }
    }
}

/// Runs 3 VUs × `per_vu` iterations of one GET of `url` + `path`, checked for the protocol
/// nginx saw; `options` are top-level scenario-file options.
async fn run_checking_proto(url: &str, options: &str, proto: &str, per_vu: u32, path: &str) -> Run {
    let yaml = format!(
        r#"
baseUrl: BASE
{options}
scenarios:
  s:
    executor: per-vu-iterations
    vus: 3
    iterations: {per_vu}
    requests:
      - name: proto
        url: {path}
        checks:
          - {{name: negotiated, bodyContains: "proto={proto}"}}
          - {{name: echoed, header: x-proto}}
"#
    );
    run_on(url, &yaml).await
}

fn checks(run: &Run) -> Vec<(String, u64, u64)> {
    run.outcome.summary.data["root_group"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["passes"].as_u64().unwrap(),
                c["fails"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_insecure_skip_verify_speaks_http1_and_h2_and_handshakes_once_per_connection() {
    let Some(nginx) = nginx_or_skip("https_with_insecure_skip_verify") else {
        return;
    };
    for (http2, proto) in [(false, "HTTP/1.1"), (true, "HTTP/2.0")] {
        let run = run_checking_proto(
            &nginx.https_url(),
            &format!("insecureSkipTlsVerify: true\nhttp2: {http2}"),
            proto,
            10,
            "/",
        )
        .await;
        let text = run.text();
        assert_eq!(
            run.sum("k6_http_reqs_total", &[("status", "200")]),
            30.0,
            "http2={http2}: {text}"
        );
        assert_eq!(
            checks(&run),
            [("negotiated".into(), 30, 0), ("echoed".into(), 30, 0)],
            "http2={http2}: nginx saw another protocol than {proto}"
        );
        // Each VU keeps its connection: 3 connects, 3 TLS handshakes, 30 of everything else.
        let count = |f: &str| run.sum(&format!("{f}_count"), &[("name", "proto")]);
        assert_eq!(count("k6_http_req_tls_handshaking_seconds"), 3.0, "{text}");
        assert_eq!(count("k6_http_req_connecting_seconds"), 3.0);
        for f in [
            "k6_http_req_blocked_seconds",
            "k6_http_req_sending_seconds",
            "k6_http_req_waiting_seconds",
            "k6_http_req_receiving_seconds",
        ] {
            assert_eq!(count(f), 30.0, "{f}");
        }
        let tls_sum = run.sum(
            "k6_http_req_tls_handshaking_seconds_sum",
            &[("name", "proto")],
        );
        assert!(tls_sum > 0.0, "a TLS handshake takes time: {tls_sum}");
        let min = run.summary_f64("http_req_tls_handshaking", "min");
        assert!(min > 0.0, "{min}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closes_is_reopened_with_a_new_handshake() {
    let Some(nginx) = nginx_or_skip("a_connection_the_server_closes") else {
        return;
    };
    // nginx closes an HTTP/1.1 connection after 5 requests on /five: 10 per VU = 2 handshakes.
    let run = run_checking_proto(
        &nginx.https_url(),
        "insecureSkipTlsVerify: true",
        "HTTP/1.1",
        10,
        "/five",
    )
    .await;
    run.assert_sums(&[
        ("k6_http_reqs_total", &[("status", "200")], 30.0),
        ("k6_http_req_tls_handshaking_seconds_count", &[], 6.0),
        ("k6_http_req_connecting_seconds_count", &[], 6.0),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_skip_verify_fails_with_reason_tls() {
    let Some(nginx) = nginx_or_skip("https_without_skip_verify") else {
        return;
    };
    let run = run_checking_proto(&nginx.https_url(), "", "HTTP/1.1", 2, "/").await;
    run.assert_sums(&[
        (
            "redline_http_request_errors_total",
            &[("reason", "tls")],
            6.0,
        ),
        ("k6_http_reqs_total", &[("status", "0")], 6.0),
        // No handshake completed, so none is recorded.
        ("k6_http_req_tls_handshaking_seconds_count", &[], 0.0),
    ]);
    assert_eq!(checks(&run)[0], ("negotiated".into(), 0, 6));

    // What the error says (debug log, and the reason above).
    let cfg = ClientConfig::new(false, Duration::from_secs(5), false, None);
    let uri = format!("{}/", nginx.https_url()).parse().unwrap();
    let mut slot = None;
    let err = match client::connection(&cfg, &mut slot, &uri).await {
        Ok(_) => panic!("a self-signed certificate was accepted without insecureSkipTlsVerify"),
        Err(e) => e,
    };
    assert_eq!(err.reason, ErrorReason::Tls);
    assert!(
        err.message.starts_with("TLS: ") && err.message.contains("certificate"),
        "{}",
        err.message
    );
    // The same connection with verification skipped works.
    let cfg = ClientConfig::new(false, Duration::from_secs(5), true, None);
    let mut slot = None;
    let (_, times) = client::connection(&cfg, &mut slot, &uri)
        .await
        .map_err(|e| e.message)
        .unwrap();
    let times = times.expect("a new connection");
    assert!(times.tls_handshake && times.tls > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_uses_http2_with_prior_knowledge_and_no_tls() {
    let Some(nginx) = nginx_or_skip("h2c_uses_http2_with_prior_knowledge") else {
        return;
    };
    let run = run_checking_proto(&nginx.h2c_url(), "http2: true", "HTTP/2.0", 4, "/").await;
    let text = run.text();
    assert_eq!(
        checks(&run),
        [("negotiated".into(), 12, 0), ("echoed".into(), 12, 0)],
        "{text}"
    );
    run.assert_sums(&[("k6_http_req_connecting_seconds_count", &[], 3.0)]);
    assert!(
        !text.contains("k6_http_req_tls_handshaking_seconds_count{"),
        "no TLS, no handshake series: {text}"
    );
}
