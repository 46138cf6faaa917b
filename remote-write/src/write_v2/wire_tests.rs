//! Wire compatibility of the generated remote-write 2.0 message with Prometheus' own:
//! `testdata/write_v2_request.golden.hex` is what Go's `writev2.Request` of Prometheus
//! 3.16.0 (github.com/prometheus/prometheus v0.316.0) marshals for the request built
//! below — symbols, label and exemplar references, start timestamps, metadata, an
//! exponential integer histogram and a custom-bucket float histogram.

use prost::Message;

use super::{
    BucketSpan, Exemplar, Histogram, Metadata, Request, Sample, TimeSeries, histogram, metadata,
};
use crate::golden;
use crate::prompb::WriteRequest;

const START: i64 = 1_699_999_990_000;

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan { offset, length }
}

fn request() -> Request {
    let sample = |value, timestamp| Sample {
        value,
        timestamp,
        start_timestamp: START,
    };
    Request {
        symbols: [
            "",
            "__name__",
            "http_requests_total",
            "code",
            "200",
            "trace_id",
            "4bf92f3577b34da6",
            "Requests served.",
            "seconds",
            "latency_seconds",
        ]
        .map(String::from)
        .to_vec(),
        timeseries: vec![
            TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![
                    sample(1.5, 1_700_000_000_000),
                    sample(2.5, 1_700_000_001_000),
                ],
                histograms: vec![],
                exemplars: vec![Exemplar {
                    labels_refs: vec![5, 6],
                    value: 0.042,
                    timestamp: 1_700_000_000_250,
                }],
                metadata: Some(Metadata {
                    r#type: metadata::MetricType::Counter as i32,
                    help_ref: 7,
                    unit_ref: 0,
                }),
            },
            TimeSeries {
                labels_refs: vec![1, 9],
                samples: vec![],
                histograms: vec![
                    golden::integer_histogram!(start_timestamp: START),
                    Histogram {
                        count: Some(histogram::Count::CountFloat(4.5)),
                        sum: 12.0,
                        schema: -53,
                        positive_spans: vec![span(0, 3)],
                        positive_counts: vec![1.0, 2.0, 1.5],
                        custom_values: vec![0.1, 0.5, 1.0],
                        reset_hint: histogram::ResetHint::Gauge as i32,
                        timestamp: 1_700_000_001_000,
                        ..Default::default()
                    },
                ],
                exemplars: vec![],
                metadata: Some(Metadata {
                    r#type: metadata::MetricType::Histogram as i32,
                    help_ref: 0,
                    unit_ref: 8,
                }),
            },
        ],
    }
}

#[test]
fn encoding_is_byte_for_byte_what_prometheus_marshals() {
    assert_eq!(request().encode_to_vec(), golden::write_v2_request());
}

#[test]
fn prometheus_bytes_decode_field_for_field() {
    assert_eq!(
        golden::decode::<Request>(golden::write_v2_request()),
        request()
    );
}

/// The 2.0 message reserves the 1.0 field numbers (and 1.0 has none of 2.0's), so a
/// receiver that picks the wrong schema sees an empty request, never a corrupt one.
#[test]
fn each_version_reads_the_other_as_an_empty_request() {
    let v1_as_v2: Request = golden::decode(golden::write_request());
    assert_eq!(v1_as_v2, Request::default());
    let v2_as_v1: WriteRequest = golden::decode(golden::write_v2_request());
    assert_eq!(v2_as_v1, WriteRequest::default());
}
