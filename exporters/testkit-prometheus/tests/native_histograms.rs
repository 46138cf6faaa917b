//! What each receiver does with a remote-write 1.0 request that carries a native histogram
//! beside a float: the request is posted as redline's encoder builds it, and the answer and
//! what got stored are recorded per receiver and per start (stock or the harness's flags).

mod common;
// The native histogram remote-write's receiver tests push: one fixture, so the tests of both
// crates mean the same observations.
#[path = "../../../remote-write/tests/common/native.rs"]
mod native;

use std::time::Duration;

use common::{ALL, minute_ago_whole_second_ms, start};
use native::three_observations;
use redline_remote_write::prompb::Sample;
use redline_remote_write::{Entry, Series, compress, encode_write_request};
use redline_testkit_prometheus::{Prometheus, Receiver};

/// Posts one request with `nh_float` = 1 and `nh_seconds` = [`three_observations`] once;
/// returns the HTTP status and body.
async fn post_float_and_histogram(p: &Prometheus) -> (u16, String) {
    let t = minute_ago_whole_second_ms();
    let float = Series::new("nh_float", [("job", "nh")]).unwrap();
    let hist = Series::new("nh_seconds", [("job", "nh")]).unwrap();
    let samples = [Sample {
        value: 1.0,
        timestamp: t,
    }];
    let histograms = [three_observations(t, 1)];
    let mut raw = Vec::new();
    encode_write_request(
        &[
            Entry {
                series: &float,
                samples: &samples,
                histograms: &[],
                exemplars: &[],
            },
            Entry {
                series: &hist,
                samples: &[],
                histograms: &histograms,
                exemplars: &[],
            },
        ],
        &mut raw,
    );
    let mut body = Vec::new();
    compress(&raw, &mut snap::raw::Encoder::new(), &mut body);
    let resp = reqwest::Client::new()
        .post(p.write_url())
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// What one receiver, started one way, did with the request.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: u16,
    float_stored: bool,
    histogram_count: Option<f64>,
}

async fn outcome(p: &Prometheus) -> (Outcome, String) {
    let (status, body) = post_float_and_histogram(p).await;
    // Writes are visible at once on Prometheus; give VictoriaMetrics its flush.
    let wait = if status < 300 {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(2)
    };
    let float = p
        .wait_for("nh_float[5m]", wait, |r| !r.is_empty())
        .await
        .unwrap();
    let count = if p.receiver() == Receiver::VictoriaMetrics {
        // It has no histogram_count(): look for anything stored besides the float.
        let other = p
            .query("{job=\"nh\", __name__!=\"nh_float\"}[5m]")
            .await
            .unwrap();
        (!other.is_empty()).then_some(f64::NAN)
    } else {
        p.scalar("histogram_count(nh_seconds)").await.unwrap()
    };
    (
        Outcome {
            status,
            float_stored: !float.is_empty(),
            histogram_count: count,
        },
        body,
    )
}

#[tokio::test]
async fn each_receiver_answers_a_request_with_a_native_histogram_as_recorded() {
    for receiver in ALL {
        for stock in [false, true] {
            let mut b = Prometheus::builder().receiver(receiver);
            if stock {
                b = b.stock();
            }
            let Some(p) = start(b).await else {
                continue;
            };
            let (got, body) = outcome(&p).await;
            let how = if stock { "stock" } else { "harness flags" };
            let expected = match (receiver, stock) {
                // Native histograms need --enable-feature=native-histograms on 2.x. Without
                // it the whole request is refused with a 500 (which senders retry), and the
                // float that came with the histogram is lost with it: issue 22's zero series.
                (Receiver::Prometheus2, true) => Outcome {
                    status: 500,
                    float_stored: false,
                    histogram_count: None,
                },
                // Prometheus 3 stores them whatever its flags.
                (Receiver::Prometheus2, false) | (Receiver::Prometheus3, _) => Outcome {
                    status: 204,
                    float_stored: true,
                    histogram_count: Some(3.0),
                },
                (Receiver::VictoriaMetrics, _) => Outcome {
                    status: 204,
                    float_stored: true,
                    histogram_count: None,
                },
            };
            assert_eq!(got, expected, "{receiver} ({how}) answered {body:?}");
            if got.status == 500 {
                assert!(
                    body.contains("native histograms are disabled"),
                    "{receiver} ({how}): {body:?}"
                );
            }
            if let Some(count) = got.histogram_count {
                assert_eq!(
                    p.scalar("histogram_sum(nh_seconds)").await.unwrap(),
                    Some(0.7),
                    "{receiver} ({how}) count {count}"
                );
            }
        }
    }
}
