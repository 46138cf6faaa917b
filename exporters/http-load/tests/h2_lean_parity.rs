//! HTTP/2 requests take redline's lean engine (src/h2lean) unless `--http2-engine h2` asks for
//! the h2 crate. The same scenario through both, on a connection per VU and on shared
//! connections (`--max-connections`), must count the same requests, statuses, checks, tokens
//! and response bytes (see [`assert_same_received`]), and send no more: the lean engine may
//! not change a result. The servers are the demo target (hyper's HTTP/2 server, cleartext
//! with prior knowledge) and nginx (h2c and TLS).
//!
//! One known difference, asserted apart: hyper's server sends a body in DATA frames even
//! for HEAD, which RFC 9113 §8.1.1 forbids. The h2 crate fails such a request; the lean
//! engine keeps the response head and drops the body, as Go's HTTP/2 client (k6) does.

mod common;

use common::nginx::Nginx;
use common::{CHECKS_TOTAL, REQS_TOTAL, Run, mix, run_yaml, target};
use redline_http_load::connection_options::Http2Engine;
use redline_runtime::CommonArgs;

/// The shared mix over HTTP/2, plus a body larger than the server's stream window.
fn mix_scenario() -> String {
    let large = "      - {name: large, method: POST, url: /api/v1/predict/3, body: {json: {instances: [[1]], pad: \"PAD\"}}}\n";
    mix::scenario("http2: true\n", large)
}

/// An HTTP/2 scenario file of one per-VU-iterations scenario `s` sending `requests` (YAML
/// list items).
fn h2_scenario(vus: u32, iterations: u32, requests: &str) -> String {
    format!(
        "baseUrl: BASE\nhttp2: true\nscenarios:\n  s:\n    executor: per-vu-iterations\n    vus: {vus}\n    iterations: {iterations}\n    requests:\n{requests}"
    )
}

/// Bytes of padding in the `large` request: more than hyper's 64 KiB stream window, so the
/// body goes out as the server's WINDOW_UPDATEs allow.
const PAD: usize = 150_000;

/// Connections of the shared runs (`--max-connections`).
const SHARED_CONNECTIONS: usize = 2;

async fn run(base: &str, yaml: &str, engine: Http2Engine, shared: bool) -> Run {
    let yaml = yaml.replace("PAD", &"x".repeat(PAD));
    run_yaml(base, &yaml, CommonArgs::default(), |a| {
        a.http2_engine = engine;
        a.insecure = true;
        if shared {
            a.max_connections = Some(SHARED_CONNECTIONS);
            a.streams_per_connection = Some(4);
        }
    })
    .await
}

/// Response bytes agree, up to the control frames either engine may leave uncounted: bytes
/// are charged to the request whose exchange reads them, so a frame that arrives after a
/// connection's last response (the server's WINDOW_UPDATE for a body it just read, a SETTINGS
/// acknowledgement) is in neither total, and when it arrives depends on timing. Responses
/// themselves are all counted: 64 bytes per connection is a few such frames, not a response.
fn assert_same_received(lean: &Run, h2: &Run, what: &str, connections: usize) {
    let (l, h) = (
        lean.summary_f64("data_received", "count"),
        h2.summary_f64("data_received", "count"),
    );
    let slack = (connections * 64) as f64;
    assert!(
        (l - h).abs() <= slack,
        "{what}: data_received lean {l}, h2 {h}"
    );
}

/// Request bytes: the lean engine's header blocks are no larger than the h2 crate's, give or
/// take its connection preface (a larger window update, 13 bytes per connection).
fn assert_sent_no_more(lean: &Run, h2: &Run, what: &str, connections: usize) {
    let (l, h) = (
        lean.summary_f64("data_sent", "count"),
        h2.summary_f64("data_sent", "count"),
    );
    assert!(
        l <= h + (13 * connections) as f64,
        "{what}: data_sent lean {l}, h2 {h}"
    );
}

fn assert_same(lean: &Run, h2: &Run, what: &str, family: &str, labels: &[(&str, &str)]) {
    let l = lean.sum(family, labels);
    assert!(
        l > 0.0,
        "{what}: nothing in {family}{labels:?}\n{}",
        lean.text()
    );
    assert_eq!(l, h2.sum(family, labels), "{what}: {family}{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_h2_crate_engines_report_the_same_run() {
    let target = target().await;
    let scenario = mix_scenario();
    for shared in [false, true] {
        let what = if shared {
            "shared connections"
        } else {
            "a connection per VU"
        };
        let lean = run(&target.url(), &scenario, Http2Engine::Lean, shared).await;
        let h2 = run(&target.url(), &scenario, Http2Engine::H2, shared).await;
        for (path, r) in [("lean", &lean), ("h2", &h2)] {
            // The whole body read, then refused: the predict API knows no `pad`.
            mix::assert_statuses(r, &format!("{what}, {path}"), &[("large", "422")]);
        }
        for (check, result) in mix::CHECKS {
            let labels = [("check", check), ("result", result)];
            assert_same(&lean, &h2, what, CHECKS_TOTAL, &labels);
        }
        let tokens = [("kind", "completion")];
        assert_same(&lean, &h2, what, "redline_llm_tokens_total", &tokens);
        let connections = if shared { SHARED_CONNECTIONS } else { 3 };
        assert_same_received(&lean, &h2, what, connections);
        assert_sent_no_more(&lean, &h2, what, connections);
        // Every large body went out whole, through the server's flow control.
        let min = (60 * PAD) as f64;
        assert!(lean.summary_f64("data_sent", "count") > min, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_with_a_body_from_the_server_still_counts_its_status() {
    let target = target().await;
    let yaml = h2_scenario(
        2,
        5,
        "      - {name: head, method: HEAD, url: /health, checks: [{name: ok, status: [200]}]}\n",
    );
    let lean = run(&target.url(), &yaml, Http2Engine::Lean, false).await;
    lean.assert_sums(&[
        (REQS_TOTAL, &[("name", "head"), ("status", "200")], 10.0),
        (CHECKS_TOTAL, &[("check", "ok"), ("result", "pass")], 10.0),
        ("redline_http_request_errors_total", &[], 0.0),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_h2_crate_engines_agree_on_nginx_h2c_and_tls() {
    let nginx = match Nginx::start() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("SKIP lean_and_h2_crate_engines_agree_on_nginx: {e}");
            return;
        }
    };
    let yaml = h2_scenario(
        4,
        25,
        r#"
      - {name: get, url: /a, checks: [{name: proto, bodyContains: "proto=HTTP/2.0"}, {name: echoed, header: x-proto}]}
      - {name: post, method: POST, url: /b, body: {json: {small: "body"}}}
"#,
    );
    for base in [nginx.h2c_url(), nginx.https_url()] {
        for shared in [false, true] {
            let what = format!("{base}, shared={shared}");
            let lean = run(&base, &yaml, Http2Engine::Lean, shared).await;
            let h2 = run(&base, &yaml, Http2Engine::H2, shared).await;
            for r in [&lean, &h2] {
                r.assert_sums(&[
                    (REQS_TOTAL, &[("name", "get"), ("status", "200")], 100.0),
                    (REQS_TOTAL, &[("name", "post"), ("status", "200")], 100.0),
                    (CHECKS_TOTAL, &[("result", "pass")], 200.0),
                ]);
            }
            let connections = if shared { SHARED_CONNECTIONS } else { 4 };
            assert_same_received(&lean, &h2, &what, connections);
            assert_sent_no_more(&lean, &h2, &what, connections);
        }
    }
}
