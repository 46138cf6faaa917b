//! Wire compatibility of the remote-write 1.0 messages: one request that uses every
//! field redline writes or relays (labels, floats with StaleNaN, exemplars, integer and
//! float native histograms with both span directions, metadata of each type) must
//! encode to the golden bytes and decode from them field for field.
//!
//! `testdata/write_request.golden.hex` was written by the hand-written prost messages
//! that served redline before the messages were generated from Prometheus' `.proto`
//! files, so these tests pin the generated code to what receivers have been accepting.
//! (Checked once against Prometheus itself: Go's `prompb.WriteRequest` of Prometheus
//! 3.16.0 unmarshals these bytes to the same values and marshals them back identical.)

use prost::Message;

use super::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, Sample, TimeSeries, WriteRequest,
    histogram, metric_metadata,
};
use crate::golden;
use crate::series::stale_nan;

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.into(),
        value: value.into(),
    }
}

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan { offset, length }
}

fn sample(value: f64, timestamp: i64) -> Sample {
    Sample { value, timestamp }
}

/// The request whose encoding is the golden bytes.
fn every_field() -> WriteRequest {
    let integer = golden::integer_histogram!();
    let float = Histogram {
        count: Some(histogram::Count::CountFloat(4.5)),
        sum: 12.0,
        schema: -2,
        zero_threshold: 0.001,
        zero_count: Some(histogram::ZeroCount::ZeroCountFloat(0.5)),
        negative_spans: vec![span(0, 2)],
        negative_counts: vec![0.25, 0.75],
        positive_spans: vec![span(1, 1)],
        positive_counts: vec![3.0],
        reset_hint: histogram::ResetHint::Gauge as i32,
        timestamp: 1_700_000_001_000,
        ..Default::default()
    };
    // How redline ends a native-histogram series (see the shard's staleness markers).
    let stale = Histogram {
        sum: stale_nan(),
        timestamp: 1_700_000_002_000,
        ..Default::default()
    };
    WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![
                    label("__name__", "k6_http_reqs_total"),
                    label("name", "ü-ñ \"quoted\""),
                    label("status", "200"),
                ],
                samples: vec![
                    sample(1.5, 1_700_000_000_000),
                    sample(0.0, 1_700_000_001_000),
                    sample(stale_nan(), 1_700_000_002_000),
                ],
                exemplars: vec![Exemplar {
                    labels: vec![label("trace_id", "4bf92f3577b34da6")],
                    value: 0.042,
                    timestamp: 1_700_000_000_250,
                }],
                histograms: vec![],
            },
            TimeSeries {
                labels: vec![label("__name__", "k6_http_req_duration_seconds")],
                samples: vec![],
                exemplars: vec![],
                histograms: vec![integer, float, stale],
            },
        ],
        metadata: [
            (metric_metadata::MetricType::Unknown, "a", "", ""),
            (metric_metadata::MetricType::Counter, "b", "requests", ""),
            (metric_metadata::MetricType::Gauge, "c", "vus", ""),
            (
                metric_metadata::MetricType::Histogram,
                "d",
                "latency",
                "seconds",
            ),
            (metric_metadata::MetricType::Gaugehistogram, "e", "", ""),
            (metric_metadata::MetricType::Summary, "f", "", ""),
            (metric_metadata::MetricType::Info, "g", "", ""),
            (metric_metadata::MetricType::Stateset, "h", "", ""),
        ]
        .into_iter()
        .map(|(t, name, help, unit)| MetricMetadata {
            r#type: t as i32,
            metric_family_name: name.into(),
            help: help.into(),
            unit: unit.into(),
        })
        .collect(),
    }
}

#[test]
fn encoding_is_byte_for_byte_the_golden_request() {
    assert_eq!(every_field().encode_to_vec(), golden::write_request());
}

#[test]
fn golden_bytes_decode_field_for_field() {
    let decoded: WriteRequest = golden::decode(golden::write_request());
    let want = every_field();
    // NaN != NaN, so the StaleNaN values are compared by bit pattern and then
    // replaced to let `==` check every other field.
    let bits = |r: &WriteRequest| {
        (
            r.timeseries[0].samples[2].value.to_bits(),
            r.timeseries[1].histograms[2].sum.to_bits(),
        )
    };
    assert_eq!(bits(&decoded), bits(&want));
    let without_nan = |mut r: WriteRequest| {
        r.timeseries[0].samples[2].value = 0.0;
        r.timeseries[1].histograms[2].sum = 0.0;
        r
    };
    assert_eq!(without_nan(decoded), without_nan(want));
}
