//! redline's remote-write 1.0 client against each real receiver, stock and with the harness's
//! flags: counters, gauges and classic histograms come back through the query API exactly as
//! they were pushed, at the timestamps they were pushed with.

mod common;

use std::time::Duration;

use common::{ALL, client_config, minute_ago_whole_second_ms, start};
use redline_remote_write::{RemoteWriter, Series};
use redline_testkit_prometheus::{Prometheus, Receiver};

/// Three samples per series, one second apart.
struct Pushed {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    values: [f64; 3],
}

const fn pushed(
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    values: [f64; 3],
) -> Pushed {
    Pushed {
        name,
        labels,
        values,
    }
}

/// A `smoke_latency_seconds` bucket series: `le` and the cumulative counts up to it.
const fn bucket(le: &'static [(&'static str, &'static str)], values: [f64; 3]) -> Pushed {
    pushed("smoke_latency_seconds_bucket", le, values)
}

const PUSHED: &[Pushed] = &[
    pushed("smoke_requests_total", &[("code", "200")], [0.0, 5.0, 12.0]),
    pushed("smoke_in_flight", &[], [3.0, -1.5, 0.25]),
    // A classic histogram is its _bucket series (cumulative, le as a label), _sum and _count.
    bucket(&[("le", "0.1")], [1.0, 2.0, 2.0]),
    bucket(&[("le", "0.5")], [2.0, 4.0, 5.0]),
    bucket(&[("le", "+Inf")], [3.0, 5.0, 7.0]),
    pushed("smoke_latency_seconds_sum", &[], [0.375, 1.125, 2.625]),
    pushed("smoke_latency_seconds_count", &[], [3.0, 5.0, 7.0]),
];

/// Pushes every series of [`PUSHED`] and checks each comes back sample for sample.
async fn floats_round_trip(p: &Prometheus) {
    let receiver = p.receiver();
    let w = RemoteWriter::start(client_config(p)).unwrap();
    let t0 = minute_ago_whole_second_ms();
    for s in PUSHED {
        let mut labels = vec![("job", "smoke")];
        labels.extend_from_slice(s.labels);
        let series = Series::new(s.name, labels).unwrap();
        for (i, v) in s.values.iter().enumerate() {
            assert!(w.push(&series, t0 + i as i64 * 1000, *v));
        }
    }
    // Evaluated one second after the last sample, a 1m window holds all three.
    let at = (t0 + 3000) as f64 / 1000.0;
    let all = "{job=\"smoke\"}[1m]";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = p.query_at(all, at).await.unwrap();
        let samples: usize = got.iter().map(|s| s.values.len()).sum();
        if samples >= PUSHED.len() * 3 || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for s in PUSHED {
        let series = got
            .iter()
            .find(|g| {
                g.label("__name__") == Some(s.name)
                    && s.labels.iter().all(|(k, v)| g.label(k) == Some(*v))
            })
            .unwrap_or_else(|| panic!("{receiver}: {} {:?} missing: {got:?}", s.name, s.labels));
        let expected: Vec<(f64, String)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| ((t0 + i as i64 * 1000) as f64 / 1000.0, v.to_string()))
            .collect();
        assert_eq!(
            series.values, expected,
            "{receiver}: {} {:?}",
            s.name, s.labels
        );
    }
    // The classic histogram answers histogram_quantile the same way on every receiver: the
    // median of the 7 observations at t0+2s lies in (0.1, 0.5], interpolated linearly.
    let median = p
        .query_at(
            "histogram_quantile(0.5, smoke_latency_seconds_bucket{job=\"smoke\"})",
            at,
        )
        .await
        .unwrap();
    assert_eq!(median.len(), 1, "{receiver}: {median:?}");
    // rank 3.5 of 7; 2 observations at or below 0.1, 3 more up to 0.5: 0.1 + 0.4 * 1.5 / 3.
    assert!(
        (median[0].float() - 0.3).abs() < 1e-12,
        "{receiver}: median {}",
        median[0].float()
    );
    let report = w.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed, "{receiver}: {report:?}");
    assert_eq!(report.dropped_at_deadline, 0, "{receiver}");
}

#[tokio::test]
async fn floats_and_classic_histograms_come_back_exactly_from_every_receiver() {
    for receiver in ALL {
        if let Some(p) = start(Prometheus::builder().receiver(receiver)).await {
            floats_round_trip(&p).await;
        }
    }
}

#[tokio::test]
async fn a_stock_receiver_takes_floats_and_classic_histograms() {
    for receiver in ALL {
        if let Some(p) = start(Prometheus::builder().receiver(receiver).stock()).await {
            floats_round_trip(&p).await;
        }
    }
}

/// Prometheus keeps every bit of a float. VictoriaMetrics stores floats as decimals and keeps
/// about 15 significant digits, so 0.1 + 0.2 (0.30000000000000004) comes back as 0.3: values
/// that need all 17 digits cannot be compared bit for bit across receivers.
#[tokio::test]
async fn only_prometheus_keeps_all_seventeen_digits_of_a_float() {
    for receiver in ALL {
        let Some(p) = start(Prometheus::builder().receiver(receiver)).await else {
            continue;
        };
        let w = RemoteWriter::start(client_config(&p)).unwrap();
        let t0 = minute_ago_whole_second_ms();
        let series = Series::new("smoke_precision", [("job", "smoke")]).unwrap();
        let value = 0.1 + 0.2;
        assert_eq!(value.to_string(), "0.30000000000000004");
        assert!(w.push(&series, t0, value));
        let got = p
            .wait_for("smoke_precision[5m]", Duration::from_secs(20), |r| {
                !r.is_empty()
            })
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{receiver}: {got:?}");
        let stored = &got[0].values[0].1;
        let expected = match receiver {
            Receiver::VictoriaMetrics => "0.3",
            _ => "0.30000000000000004",
        };
        assert_eq!(stored, expected, "{receiver}");
        w.shutdown(Duration::from_secs(5)).await;
    }
}
