//! Malformed, truncated and mistyped writes get a clear 4xx naming what was wrong, are
//! counted by reason, crash nothing, and do not disturb the good writes around them.

use std::time::Duration;

use prost::Message;
use redline_k6_relay::K6RelayArgs;
use redline_remote_write::prompb::WriteRequest;
use redline_testkit_prometheus::{by_label, free_port};

mod common;

use common::{five_series, series, snappy, stored_reqs_max};

async fn post(relay: &common::Relay, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let r = relay.write(content_type, body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn now_ms() -> i64 {
    redline_remote_write::now_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_are_refused_clearly_counted_and_good_ones_still_arrive() {
    let (prom, relay) = common::start_into_new_prometheus("bad-input").await;
    let pb = "application/x-protobuf";

    let good = |ts: i64, v: f64| WriteRequest {
        timeseries: vec![series(
            &[
                ("__name__", "k6_http_reqs_total"),
                ("url", "http://x/?id=1"),
                ("name", "x"),
            ],
            ts,
            v,
        )],
        metadata: vec![],
    };
    let t0 = now_ms();
    assert_eq!(post(&relay, pb, snappy(&good(t0, 1.0))).await.0, 204);

    let valid = snappy(&good(t0 + 1, 2.0));
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "uncompressed",
            pb,
            good(t0, 1.0).encode_to_vec(),
            400,
            "snappy",
        ),
        (
            "truncated",
            pb,
            valid[..valid.len() / 2].to_vec(),
            400,
            "snappy",
        ),
        (
            "not protobuf",
            pb,
            snap::raw::Encoder::new()
                .compress_vec(b"\x0a\xff\xff\xff\xff")
                .unwrap(),
            400,
            "protobuf",
        ),
        (
            "no name",
            pb,
            snappy(&WriteRequest {
                timeseries: vec![series(&[("job", "x")], t0, 1.0)],
                metadata: vec![],
            }),
            400,
            "__name__",
        ),
        (
            "bad label",
            pb,
            snappy(&WriteRequest {
                timeseries: vec![series(&[("__name__", "m"), ("bad-label", "v")], t0, 1.0)],
                metadata: vec![],
            }),
            400,
            "bad-label",
        ),
        (
            "json",
            "application/json",
            valid.clone(),
            415,
            "application/json",
        ),
    ];
    for (what, ct, body, status, says) in cases {
        let (got, text) = post(&relay, ct, body).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(
            text.contains(says),
            "{what}: {text:?} should mention {says}"
        );
    }
    let http = reqwest::Client::new();
    let r = http.get(&relay.url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = http
        .post(format!("{}/write", relay.origin))
        .body(valid.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // The relay still takes good writes after all that.
    assert_eq!(post(&relay, pb, valid).await.0, 204);
    relay.ends_when_idle().await;

    assert_eq!(stored_reqs_max(&prom, "bad-input").await, 2.0);
    let rejected = prom
        .query("max_over_time(redline_relay_rejected_requests_total[5m]) > 0")
        .await
        .unwrap();
    assert_eq!(
        by_label(&rejected, "reason"),
        [
            ("bad_label".into(), 1.0),
            ("content_type".into(), 1.0),
            ("method".into(), 1.0),
            ("missing_name".into(), 1.0),
            ("path".into(), 1.0),
            ("protobuf".into(), 1.0),
            ("snappy".into(), 2.0),
        ]
    );
    let accepted = prom
        .scalar("max_over_time(redline_relay_requests_total{result=\"accepted\"}[5m])")
        .await
        .unwrap();
    assert_eq!(accepted, Some(2.0));
}

/// Without a disk buffer a queue still full after --queue-full-wait answers 503 (k6 logs it)
/// and counts the drop, rather than answering 204 for samples it cannot keep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_without_a_disk_buffer_answers_503_and_counts_it() {
    // A listener that is bound but never accepts: the shard's first send hangs there, so
    // the queue fills. (A port merely found free could be taken by the Prometheus another
    // test starts meanwhile, which then stored everything and the queue never filled.)
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = stuck.local_addr().unwrap().port();
    let admin = free_port().unwrap();
    let mut args = K6RelayArgs::for_test(&format!("http://127.0.0.1:{dead}/api/v1/write"), "full");
    args.common.admin_addr = Some(format!("127.0.0.1:{admin}").parse().unwrap());
    // The queue never drains here, so a held write waits the whole bound before its 503;
    // short, to keep the test quick (tests/backpressure.rs covers a wait that ends in 204).
    common::small_queue(
        &mut args,
        Duration::from_millis(500),
        Duration::from_millis(200),
    );
    let relay = common::start(args).await;
    let t0 = now_ms();
    let mut statuses = Vec::new();
    for i in 0..20 {
        let body = five_series("m", t0 + i, 1.0);
        let (status, text) = post(&relay, "application/x-protobuf", body).await;
        if status == 503 {
            assert!(text.contains("--buffer-dir"), "{text}");
        }
        statuses.push(status);
        if i == 0 {
            // Let the shard take the first batch and get stuck retrying it; from then on
            // the queue itself fills.
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    }
    assert!(statuses.contains(&204), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    let unavailable = statuses.iter().filter(|s| **s == 503).count();
    let exposition = reqwest::get(format!("http://127.0.0.1:{admin}/metrics")).await;
    let metrics = exposition.unwrap().text().await.unwrap();
    // The runtime puts testid first; match the name and the labels that matter.
    let value = |prefix: &str| -> f64 {
        let (name, labels) = prefix.split_once('{').unwrap();
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{prefix} not in\n{metrics}"))
    };
    assert_eq!(
        value("redline_relay_requests_total{result=\"unavailable\""),
        unavailable as f64
    );
    assert_eq!(
        value("redline_relay_dropped_samples_total{kind=\"float\",reason=\"queue_full\""),
        (unavailable * 5) as f64
    );
    relay.ends_when_idle().await;
    drop(stuck);
}
