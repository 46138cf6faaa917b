//! Remote-write 2.0 encoding of a batch (`io.prometheus.write.v2.Request`): every label
//! name and value, help text and unit is written once into the request's symbols table
//! and referred to by index, which is what makes 2.0 requests smaller than 1.0 ones for
//! the same samples.

use std::collections::HashMap;

use prost::Message;

use crate::encode::Entry;
use crate::meta::{Metadata, MetricKind};
use crate::prompb;
use crate::write_v2 as v2;

/// The request's symbols table: index 0 is the empty string, as the spec requires.
struct Symbols<'a> {
    table: Vec<&'a str>,
    index: HashMap<&'a str, u32>,
}

impl<'a> Symbols<'a> {
    fn new() -> Self {
        Self {
            table: vec![""],
            index: HashMap::from([("", 0)]),
        }
    }

    fn intern(&mut self, s: &'a str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as u32;
        self.table.push(s);
        self.index.insert(s, i);
        i
    }

    fn labels(&mut self, labels: &'a [prompb::Label]) -> Vec<u32> {
        let mut refs = Vec::with_capacity(labels.len() * 2);
        for l in labels {
            refs.push(self.intern(&l.name));
            refs.push(self.intern(&l.value));
        }
        refs
    }
}

fn metric_type(kind: MetricKind) -> v2::metadata::MetricType {
    use v2::metadata::MetricType as T;
    match kind {
        MetricKind::Unknown => T::Unspecified,
        MetricKind::Counter => T::Counter,
        MetricKind::Gauge => T::Gauge,
        MetricKind::Histogram => T::Histogram,
        MetricKind::GaugeHistogram => T::Gaugehistogram,
        MetricKind::Summary => T::Summary,
        MetricKind::Info => T::Info,
        MetricKind::StateSet => T::Stateset,
    }
}

fn metadata<'a>(m: Option<&'a Metadata>, symbols: &mut Symbols<'a>) -> Option<v2::Metadata> {
    let m = m?;
    Some(v2::Metadata {
        r#type: metric_type(m.kind) as i32,
        help_ref: symbols.intern(&m.help),
        unit_ref: symbols.intern(&m.unit),
    })
}

fn span(s: &prompb::BucketSpan) -> v2::BucketSpan {
    v2::BucketSpan {
        offset: s.offset,
        length: s.length,
    }
}

/// The same histogram in 2.0's message (field for field; the reset hints share numbers).
fn histogram(h: &prompb::Histogram) -> v2::Histogram {
    use prompb::histogram::{Count, ZeroCount};
    use v2::histogram as h2;
    v2::Histogram {
        count: h.count.map(|c| match c {
            Count::CountInt(n) => h2::Count::CountInt(n),
            Count::CountFloat(n) => h2::Count::CountFloat(n),
        }),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count.map(|c| match c {
            ZeroCount::ZeroCountInt(n) => h2::ZeroCount::ZeroCountInt(n),
            ZeroCount::ZeroCountFloat(n) => h2::ZeroCount::ZeroCountFloat(n),
        }),
        negative_spans: h.negative_spans.iter().map(span).collect(),
        negative_deltas: h.negative_deltas.clone(),
        negative_counts: h.negative_counts.clone(),
        positive_spans: h.positive_spans.iter().map(span).collect(),
        positive_deltas: h.positive_deltas.clone(),
        positive_counts: h.positive_counts.clone(),
        reset_hint: h.reset_hint,
        timestamp: h.timestamp,
        custom_values: h.custom_values.clone(),
        start_timestamp: 0,
    }
}

/// The 2.0 request holding `entries`.
pub fn write_request_v2(entries: &[Entry<'_>]) -> v2::Request {
    let mut symbols = Symbols::new();
    let mut timeseries = Vec::with_capacity(entries.len());
    for e in entries {
        timeseries.push(v2::TimeSeries {
            labels_refs: symbols.labels(e.series.labels()),
            samples: e
                .samples
                .iter()
                .map(|s| v2::Sample {
                    value: s.value,
                    timestamp: s.timestamp,
                    start_timestamp: 0,
                })
                .collect(),
            histograms: e.histograms.iter().map(histogram).collect(),
            exemplars: e
                .exemplars
                .iter()
                .map(|x| v2::Exemplar {
                    labels_refs: symbols.labels(&x.labels),
                    value: x.value,
                    timestamp: x.timestamp,
                })
                .collect(),
            metadata: metadata(e.series.metadata(), &mut symbols),
        });
    }
    v2::Request {
        symbols: symbols.table.into_iter().map(String::from).collect(),
        timeseries,
    }
}

/// Appends the protobuf encoding of the 2.0 request holding `entries` to `buf`.
pub fn encode_write_request_v2(entries: &[Entry<'_>], buf: &mut Vec<u8>) {
    let request = write_request_v2(entries);
    buf.reserve(request.encoded_len());
    request
        .encode(buf)
        .expect("the buffer was reserved to the encoded length");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{Exemplar, Histogram, Label, Sample, histogram as h1};
    use crate::series::Series;

    /// Labels of `refs` read back through `symbols`, as a receiver resolves them.
    fn resolve(symbols: &[String], refs: &[u32]) -> Vec<(String, String)> {
        refs.chunks(2)
            .map(|p| {
                (
                    symbols[p[0] as usize].clone(),
                    symbols[p[1] as usize].clone(),
                )
            })
            .collect()
    }

    #[test]
    fn symbols_are_interned_once_and_everything_resolves_back() {
        let meta = Metadata::new(MetricKind::Counter, "Requests served.").with_unit("requests");
        let a = Series::new("http_requests_total", [("code", "200"), ("job", "x")])
            .unwrap()
            .with_metadata(meta);
        let b = Series::new("http_requests_total", [("code", "500"), ("job", "x")]).unwrap();
        let samples = [Sample {
            value: 1.5,
            timestamp: 1_700_000_000_000,
        }];
        let x = Exemplar {
            labels: vec![Label {
                name: "trace_id".into(),
                value: "abc".into(),
            }],
            value: 0.25,
            timestamp: 1_700_000_000_500,
        };
        let h = Histogram {
            count: Some(h1::Count::CountInt(2)),
            sum: 3.0,
            zero_count: Some(h1::ZeroCount::ZeroCountInt(0)),
            positive_spans: vec![prompb::BucketSpan {
                offset: 1,
                length: 1,
            }],
            positive_deltas: vec![2],
            reset_hint: prompb::histogram::ResetHint::No as i32,
            timestamp: 1_700_000_000_000,
            ..Default::default()
        };
        let entries = [
            Entry {
                series: &a,
                samples: &samples,
                histograms: &[],
                exemplars: std::slice::from_ref(&x),
            },
            Entry {
                series: &b,
                samples: &samples,
                histograms: std::slice::from_ref(&h),
                exemplars: &[],
            },
        ];
        let mut raw = Vec::new();
        encode_write_request_v2(&entries, &mut raw);
        let got = v2::Request::decode(raw.as_slice()).unwrap();

        assert_eq!(got.symbols[0], "", "symbol 0 is the empty string");
        let mut unique = got.symbols.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), got.symbols.len(), "each symbol once");
        for (ts, series) in got.timeseries.iter().zip([&a, &b]) {
            let want: Vec<_> = series
                .labels()
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            assert_eq!(resolve(&got.symbols, &ts.labels_refs), want);
            assert_eq!(ts.samples.len(), 1);
            assert_eq!(ts.samples[0].value, 1.5);
        }
        let first = &got.timeseries[0];
        assert_eq!(
            resolve(&got.symbols, &first.exemplars[0].labels_refs),
            [("trace_id".to_string(), "abc".to_string())]
        );
        let m = first.metadata.unwrap();
        assert_eq!(m.r#type, v2::metadata::MetricType::Counter as i32);
        assert_eq!(got.symbols[m.help_ref as usize], "Requests served.");
        assert_eq!(got.symbols[m.unit_ref as usize], "requests");
        assert_eq!(got.timeseries[1].metadata, None, "no metadata, none sent");
        let h2 = &got.timeseries[1].histograms[0];
        assert_eq!(h2.count, Some(v2::histogram::Count::CountInt(2)));
        assert_eq!(h2.positive_deltas, [2]);
        assert_eq!(h2.reset_hint, v2::histogram::ResetHint::No as i32);
        assert_eq!(h2.timestamp, h.timestamp);
    }
}
