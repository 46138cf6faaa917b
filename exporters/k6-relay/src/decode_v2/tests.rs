use super::*;
use http::StatusCode;
use prompb::histogram::Count as V1Count;
use write_v2::histogram::{Count, ZeroCount};
use write_v2::{BucketSpan, Exemplar, Histogram, Metadata, Request};

fn symbols(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// 1 observation in the zero bucket, buckets [1, 3] on the positive side: count 5.
fn histogram(count: u64, sum: f64) -> Histogram {
    Histogram {
        count: Some(Count::CountInt(count)),
        zero_count: Some(ZeroCount::ZeroCountInt(1)),
        sum,
        schema: 3,
        zero_threshold: 1e-128,
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![1, 2],
        timestamp: 7,
        ..Default::default()
    }
}

fn one_series(ts: write_v2::TimeSeries) -> Request {
    Request {
        symbols: symbols(&[
            "",
            "__name__",
            "rpc_seconds",
            "job",
            "api",
            "trace_id",
            "abc",
            "help",
        ]),
        timeseries: vec![ts],
    }
}

fn decode(req: &Request) -> Result<DecodedV2, Rejection> {
    decode_v2(&req.encode_to_vec())
}

#[test]
fn symbols_samples_histograms_and_exemplars_become_the_relays_1_0_form() {
    let floats = write_v2::TimeSeries {
        labels_refs: vec![1, 2, 3, 4],
        samples: vec![write_v2::Sample {
            value: 2.5,
            timestamp: 1000,
            ..Default::default()
        }],
        exemplars: vec![Exemplar {
            labels_refs: vec![5, 6],
            value: 0.3,
            timestamp: 999,
        }],
        metadata: Some(Metadata {
            r#type: write_v2::metadata::MetricType::Counter as i32,
            help_ref: 7,
            unit_ref: 0,
        }),
        ..Default::default()
    };
    let mut req = one_series(floats);
    req.timeseries.push(write_v2::TimeSeries {
        labels_refs: vec![1, 7],
        histograms: vec![histogram(5, 1.5)],
        ..Default::default()
    });
    let d = decode(&req).unwrap();
    assert_eq!(d.exemplars, 1);
    let [a, b] = &d.request.timeseries[..] else {
        panic!("{:?}", d.request)
    };
    let names: Vec<_> = a
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(names, [("__name__", "rpc_seconds"), ("job", "api")]);
    assert_eq!(
        a.samples,
        [Sample {
            value: 2.5,
            timestamp: 1000
        }]
    );
    assert!(a.histograms.is_empty());
    assert_eq!(a.exemplars.len(), 1, "exemplars go on with their series");
    let x = &a.exemplars[0];
    assert_eq!((x.value, x.timestamp), (0.3, 999));
    assert_eq!(
        (x.labels[0].name.as_str(), x.labels[0].value.as_str()),
        ("trace_id", "abc")
    );
    assert!(b.exemplars.is_empty());
    assert_eq!(b.labels[0].value, "help");
    let h = &b.histograms[0];
    assert_eq!(h.count, Some(V1Count::CountInt(5)));
    assert_eq!(h.positive_deltas, [1, 2]);
    assert_eq!(h.positive_spans[0].length, 2);
    assert_eq!((h.schema, h.timestamp, h.sum), (3, 7, 1.5));
}

#[test]
fn references_outside_the_symbol_table_or_unpaired_are_a_400_naming_the_series() {
    for (refs, says) in [
        (vec![1, 2, 3], "odd length"),
        (vec![1, 2, 3, 99], "symbol 99"),
    ] {
        let e = decode(&one_series(write_v2::TimeSeries {
            labels_refs: refs,
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.reason(), "bad_series");
        assert!(
            e.to_string().contains("series 0") && e.to_string().contains(says),
            "{e}"
        );
    }
    let e = decode(&one_series(write_v2::TimeSeries {
        labels_refs: vec![1, 2],
        exemplars: vec![Exemplar {
            labels_refs: vec![5, 60],
            ..Default::default()
        }],
        ..Default::default()
    }))
    .unwrap_err();
    assert!(e.to_string().contains("exemplar"), "{e}");
    let mut req = one_series(write_v2::TimeSeries::default());
    req.symbols[0] = "x".into();
    let e = decode(&req).unwrap_err();
    assert_eq!(e.reason(), "protobuf");
    assert!(e.to_string().contains("symbols[0]"), "{e}");
    // Not a v2 Request at all.
    let e = decode_v2(b"\x0a\xff\xff\xff\xff").unwrap_err();
    assert_eq!(e.reason(), "protobuf");
    assert!(
        e.to_string().contains("io.prometheus.write.v2.Request"),
        "{e}"
    );
}

#[test]
fn a_series_with_both_samples_and_histograms_is_refused() {
    let e = decode(&one_series(write_v2::TimeSeries {
        labels_refs: vec![1, 2],
        samples: vec![write_v2::Sample::default()],
        histograms: vec![histogram(5, 1.0)],
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.reason(), "bad_series");
    assert!(e.to_string().contains("both"), "{e}");
}

#[test]
fn histograms_whose_buckets_do_not_add_up_are_refused() {
    let bad = |h: Histogram, says: &str| {
        let e = decode(&one_series(write_v2::TimeSeries {
            labels_refs: vec![1, 2],
            histograms: vec![h],
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains(says), "{e} (wanted {says:?})");
    };
    bad(histogram(99, 1.0), "not its buckets' total");
    bad(histogram(4, 1.0), "not its buckets' total");
    // A NaN sum (NaN observed) lets the count exceed the buckets, never fall below them.
    decode(&one_series(write_v2::TimeSeries {
        labels_refs: vec![1, 2],
        histograms: vec![histogram(6, f64::NAN)],
        ..Default::default()
    }))
    .unwrap();
    bad(histogram(4, f64::NAN), "less than");
    let mut h = histogram(5, 1.0);
    h.positive_deltas = vec![1];
    bad(h, "cover 2 buckets");
    let mut h = histogram(5, 1.0);
    h.positive_deltas = vec![3, -4];
    bad(h, "below zero");
    let mut h = histogram(5, 1.0);
    h.schema = 9;
    bad(h, "schema 9");
    let mut h = histogram(5, 1.0);
    h.schema = -53;
    h.zero_count = None;
    h.count = Some(Count::CountInt(4));
    h.custom_values = vec![1.0, 0.5];
    bad(h, "increasing");
}

#[test]
fn metadata_only_series_are_taken_and_written_as_nothing() {
    // A counter's metadata and nothing else, its help text at `help_ref`.
    let metadata_only = |help_ref| {
        one_series(write_v2::TimeSeries {
            labels_refs: vec![1, 2],
            metadata: Some(Metadata {
                r#type: 1,
                help_ref,
                unit_ref: 0,
            }),
            ..Default::default()
        })
    };
    let d = decode(&metadata_only(7)).unwrap();
    assert_eq!(d.exemplars, 0);
    assert!(d.request.timeseries[0].samples.is_empty());
    let e = decode(&metadata_only(70)).unwrap_err();
    assert!(e.to_string().contains("help_ref"), "{e}");
}
