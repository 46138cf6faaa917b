//! A remote-write 2.0 sender is served like a 1.0 one: its samples reach the real Prometheus
//! behind the relay with the relay's label rules applied, the answer's written-headers count
//! what was taken, and a malformed 2.0 request is a 400 that keeps nothing of it.

use redline_remote_write::write_v2::{Exemplar, Request, Sample, TimeSeries};

mod common;

use common::{snappy, stored_reqs_max};

const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

fn written(r: &reqwest::Response, what: &str) -> Option<u64> {
    r.headers()
        .get(format!("X-Prometheus-Remote-Write-{what}-Written"))
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_0_request_arrives_counted_in_its_answer_and_a_bad_one_is_a_400() {
    let (prom, relay) = common::start_into_new_prometheus("rw2").await;
    let t0 = redline_remote_write::now_millis();

    let sample = |v: f64, t: i64| Sample {
        value: v,
        timestamp: t,
        ..Default::default()
    };
    // Two series sharing interned symbols; one carries an exemplar, forwarded beside them.
    let req = Request {
        symbols: [
            "",
            "__name__",
            "k6_http_reqs_total",
            "url",
            "/a",
            "/b",
            "trace_id",
            "t1",
        ]
        .map(String::from)
        .to_vec(),
        timeseries: vec![
            TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![sample(3.0, t0), sample(5.0, t0 + 1000)],
                exemplars: vec![Exemplar {
                    labels_refs: vec![6, 7],
                    value: 1.0,
                    timestamp: t0,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: vec![1, 2, 3, 5],
                samples: vec![sample(4.0, t0)],
                ..Default::default()
            },
        ],
    };
    let r = relay
        .write(V2, snappy(&req))
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // --drop-label url merges the two series; the counters at t0 add up (3 + 4), so two
    // samples are kept of the three sent, and the answer says so.
    assert_eq!(written(&r, "Samples"), Some(2));
    assert_eq!(written(&r, "Histograms"), Some(0));
    assert_eq!(written(&r, "Exemplars"), Some(1));

    let mut bad = req.clone();
    bad.timeseries[1].labels_refs = vec![1, 2, 3, 42];
    bad.timeseries[1].samples = vec![sample(100.0, t0 + 2000)];
    let r = relay.write(V2, snappy(&bad)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(written(&r, "Samples"), None);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("series 1") && text.contains("symbol 42"),
        "{text}"
    );

    relay.ends_when_idle().await;
    // 7 at t0 and 5 at t0+1s: the max is the merged 7; the bad request's 100 never arrived.
    assert_eq!(stored_reqs_max(&prom, "rw2").await, 7.0);
}
