//! How VUs use connections, seen from the server: multiplexed HTTP/2 (`--http2
//! --max-connections N --streams-per-connection M`) opens exactly N connections and runs
//! several streams on each at once; `--no-connection-reuse` opens one TLS connection per
//! request. Every request is still counted exactly, on both sides. The multiplexing test uses a
//! hyper HTTP/2 server in the test, which counts streams in flight per connection; the TLS
//! tests use nginx's access log (`$connection`), skipped with the reason printed when nginx or
//! openssl is missing.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::nginx_log::LoggingNginx;
use common::{REQS_TOTAL, Run, run_yaml, sum_of};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use redline_runtime::CommonArgs;

/// What the HTTP/2 server saw on each connection: requests, and the most streams it had in
/// flight at once.
#[derive(Default)]
struct ConnStats {
    requests: AtomicU64,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

/// A cleartext HTTP/2 server whose every response waits `hold`, so streams overlap.
async fn counting_h2_server(hold: Duration) -> (String, Arc<Mutex<Vec<Arc<ConnStats>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns: Arc<Mutex<Vec<Arc<ConnStats>>>> = Arc::default();
    let seen = Arc::clone(&conns);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let stats = Arc::new(ConnStats::default());
            seen.lock().unwrap().push(Arc::clone(&stats));
            let svc = service_fn(move |_req| {
                let stats = Arc::clone(&stats);
                async move {
                    let now = stats.active.fetch_add(1, Ordering::SeqCst) + 1;
                    stats.max_active.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(hold).await;
                    stats.active.fetch_sub(1, Ordering::SeqCst);
                    stats.requests.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc),
            );
        }
    });
    (url, conns)
}

/// Asserts `run` counted `n` requests answered 200; `what` starts the message.
fn assert_answered_ok(run: &Run, n: f64, what: &str) {
    let text = run.text();
    assert_eq!(
        sum_of(text, REQS_TOTAL, &[("status", "200")]),
        n,
        "{what}{text}"
    );
}

fn shared_iterations(vus: u32, iterations: u32) -> String {
    format!(
        r#"
baseUrl: BASE
http2: true
insecureSkipTlsVerify: true
scenarios:
  s:
    executor: shared-iterations
    vus: {vus}
    iterations: {iterations}
    maxDuration: 60s
    requests:
      - {{name: r, url: /}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_vus_share_the_connections_asked_for_as_concurrent_streams() {
    for workers in [1, 2] {
        let (url, conns) = counting_h2_server(Duration::from_millis(5)).await;
        let run = run_yaml(
            &url,
            &shared_iterations(20, 400),
            CommonArgs::default(),
            |a| {
                a.max_connections = Some(2);
                a.streams_per_connection = Some(5);
                a.workers = Some(workers);
            },
        )
        .await;
        let text = &run.outcome.metrics_text;
        let conns = conns.lock().unwrap();
        assert_eq!(
            conns.len(),
            2,
            "workers={workers}: connections the server saw"
        );
        let served: u64 = conns
            .iter()
            .map(|c| c.requests.load(Ordering::SeqCst))
            .sum();
        assert_eq!(served, 400, "workers={workers}");
        for c in conns.iter() {
            let most = c.max_active.load(Ordering::SeqCst);
            assert!(
                (2..=5).contains(&most),
                "workers={workers}: {most} streams at once on one connection (want 2..=5)"
            );
        }
        assert_answered_ok(&run, 400.0, "");
        assert_eq!(sum_of(text, REQS_TOTAL, &[]), 400.0);
        // Each request has its latency and phases; only the two that opened a connection
        // have a connecting time.
        let count = |f: &str| sum_of(text, &format!("{f}_count"), &[("name", "r")]);
        assert_eq!(count("k6_http_req_duration_seconds"), 400.0);
        assert_eq!(count("k6_http_req_blocked_seconds"), 400.0);
        assert_eq!(count("k6_http_req_waiting_seconds"), 400.0);
        assert_eq!(count("k6_http_req_connecting_seconds"), 2.0);
        // Bytes on the shared connections are counted once each, not once per stream.
        let sent = sum_of(text, "k6_data_sent_total", &[]);
        assert!(
            sent > 400.0 * 9.0 && sent < 400.0 * 200.0,
            "data_sent {sent} for 400 small requests"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_multiplexes_on_nginx() {
    let nginx = match LoggingNginx::start() {
        Ok(n) => n,
        Err(e) => return eprintln!("SKIP http2_over_tls_multiplexes_on_nginx: {e}"),
    };
    let run = run_yaml(
        &nginx.https_url(),
        &shared_iterations(30, 300),
        CommonArgs::default(),
        |a| a.max_connections = Some(3),
    )
    .await;
    let text = &run.outcome.metrics_text;
    assert_answered_ok(&run, 300.0, "");
    let served = nginx.served();
    assert_eq!(served.len(), 300);
    assert!(
        served.iter().all(|s| s.protocol == "HTTP/2.0"),
        "{served:?}"
    );
    assert_eq!(
        nginx.per_connection().len(),
        3,
        "{:?}",
        nginx.per_connection()
    );
    assert_eq!(
        sum_of(text, "k6_http_req_tls_handshaking_seconds_count", &[]),
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_reuse_opens_one_tls_connection_per_request() {
    let nginx = match LoggingNginx::start() {
        Ok(n) => n,
        Err(e) => return eprintln!("SKIP no_connection_reuse: {e}"),
    };
    let mut logged = 0;
    for http2 in [false, true] {
        let run = run_yaml(
            &nginx.https_url(),
            &shared_iterations(3, 30).replace("http2: true", &format!("http2: {http2}")),
            CommonArgs::default(),
            |a| a.no_connection_reuse = true,
        )
        .await;
        let text = &run.outcome.metrics_text;
        assert_answered_ok(&run, 30.0, &format!("http2={http2}: "));
        // Both sides agree: 30 connections, one request each.
        let served = nginx.served();
        let this_run = &served[logged..];
        logged = served.len();
        assert_eq!(this_run.len(), 30, "http2={http2}");
        assert!(
            this_run.iter().all(|s| s.connection_requests == 1),
            "http2={http2}: a connection served more than one request: {this_run:?}"
        );
        let mut ids: Vec<u64> = this_run.iter().map(|s| s.connection).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 30, "http2={http2}");
        assert_eq!(
            sum_of(text, "k6_http_req_tls_handshaking_seconds_count", &[]),
            30.0,
            "http2={http2}"
        );
        assert_eq!(
            sum_of(text, "k6_http_req_connecting_seconds_count", &[]),
            30.0
        );
    }
}

#[tokio::test]
async fn contradictory_connection_flags_are_refused_naming_them() {
    let mut args = redline_http_load::HttpLoadArgs::for_test(CommonArgs::default());
    args.url = Some("http://127.0.0.1:9/".into());
    args.streams_per_connection = Some(10);
    args.max_connections = Some(5);
    let err = redline_http_load::execute(args)
        .await
        .expect_err("HTTP/1.1 has no streams");
    assert!(err.to_string().contains("--http2"), "{err}");
}
