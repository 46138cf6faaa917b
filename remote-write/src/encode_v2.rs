//! Remote-write 2.0 encoding of a batch (`io.prometheus.write.v2.Request`): every label
//! name and value, help text and unit is written once into the request's symbols table
//! and referred to by index, which is what makes 2.0 requests smaller than 1.0 ones for
//! the same samples.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::encode::{Entry, field_len};
use crate::meta::{Metadata, MetricKind};
use crate::prompb;
use crate::series::{is_stale_nan, symbol_hash};
use crate::write_v2 as v2;

/// A symbol with its [`symbol_hash`], computed once per series rather than per request.
struct Sym<'a> {
    hash: u64,
    s: &'a str,
}

impl Hash for Sym<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
impl PartialEq for Sym<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.s == other.s
    }
}
impl Eq for Sym<'_> {}

/// Passes a [`Sym`]'s precomputed hash through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only Sym is hashed, with write_u64")
    }
    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }
}

/// The request's symbols table: index 0 is the empty string, as the spec requires.
struct Symbols<'a> {
    table: Vec<&'a str>,
    index: HashMap<Sym<'a>, u32, BuildHasherDefault<PassThrough>>,
}

impl<'a> Symbols<'a> {
    /// Room for `capacity` distinct symbols before the map grows.
    fn new(capacity: usize) -> Self {
        let mut index = HashMap::with_capacity_and_hasher(capacity, Default::default());
        index.insert(
            Sym {
                hash: symbol_hash(""),
                s: "",
            },
            0,
        );
        let mut table = Vec::with_capacity(capacity);
        table.push("");
        Self { table, index }
    }

    fn intern(&mut self, s: &'a str) -> u32 {
        self.intern_hashed(s, symbol_hash(s))
    }

    fn intern_hashed(&mut self, s: &'a str, hash: u64) -> u32 {
        let next = self.table.len() as u32;
        let i = *self.index.entry(Sym { hash, s }).or_insert(next);
        if i == next {
            self.table.push(s);
        }
        i
    }

    /// A series' labels, with the hashes it computed once.
    fn series_into(&mut self, series: &'a crate::series::Series, refs: &mut Vec<u32>) {
        let hashes = series.symbol_hashes();
        for (l, h) in series.labels().iter().zip(hashes.chunks_exact(2)) {
            refs.push(self.intern_hashed(&l.name, h[0]));
            refs.push(self.intern_hashed(&l.value, h[1]));
        }
    }

    fn labels(&mut self, labels: &'a [prompb::Label]) -> Vec<u32> {
        let mut refs = Vec::with_capacity(labels.len() * 2);
        self.labels_into(labels, &mut refs);
        refs
    }

    fn labels_into(&mut self, labels: &'a [prompb::Label], refs: &mut Vec<u32>) {
        for l in labels {
            refs.push(self.intern(&l.name));
            refs.push(self.intern(&l.value));
        }
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

/// The `start_timestamp` a sample of a series created at `created` (0: not known) carries.
/// A staleness marker carries none: it ends the series rather than counting in it, and a
/// receiver that turns start timestamps into zero samples would only try (and fail) to
/// write one before samples it already has.
fn start_timestamp(created: i64, value: f64) -> i64 {
    if is_stale_nan(value) { 0 } else { created }
}

/// The same histogram in 2.0's message (field for field; the reset hints share numbers),
/// with the start timestamp of a series created at `created`.
fn histogram(h: &prompb::Histogram, created: i64) -> v2::Histogram {
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
        start_timestamp: start_timestamp(created, h.sum),
    }
}

/// The 2.0 request holding `entries`, as prost messages: what [`encode_write_request_v2`]
/// writes directly, which its tests check.
pub fn write_request_v2(entries: &[Entry<'_>]) -> v2::Request {
    let mut symbols = Symbols::new(64);
    let mut timeseries = Vec::with_capacity(entries.len());
    for e in entries {
        let created = e.series.created_timestamp().unwrap_or(0);
        timeseries.push(v2::TimeSeries {
            labels_refs: symbols.labels(e.series.labels()),
            samples: e
                .samples
                .iter()
                .map(|s| v2::Sample {
                    value: s.value,
                    timestamp: s.timestamp,
                    start_timestamp: start_timestamp(created, s.value),
                })
                .collect(),
            histograms: e.histograms.iter().map(|h| histogram(h, created)).collect(),
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

fn packed_len(refs: &[u32]) -> usize {
    refs.iter().map(|r| encoded_len_varint(u64::from(*r))).sum()
}

fn put_packed(tag: u32, refs: &[u32], buf: &mut Vec<u8>) {
    if refs.is_empty() {
        return;
    }
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(packed_len(refs) as u64, buf);
    for r in refs {
        encode_varint(u64::from(*r), buf);
    }
}

fn packed_field_len(refs: &[u32]) -> usize {
    if refs.is_empty() {
        0
    } else {
        field_len(packed_len(refs))
    }
}

/// A `Sample`: value (always written, so the shape is fixed), timestamp, and the start
/// timestamp where there is one.
fn sample_len(s: &prompb::Sample, start: i64) -> usize {
    1 + 8 + 1 + encoded_len_varint(s.timestamp as u64) + varint_field_len(start as u64)
}

fn varint_field_len(v: u64) -> usize {
    if v == 0 { 0 } else { 1 + encoded_len_varint(v) }
}

fn put_varint_field(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

/// Appends the protobuf encoding of the 2.0 request holding `entries` to `buf`, writing the
/// bytes directly (no intermediate messages): a first pass interns every symbol, the second
/// writes the table and then each series with its references.
pub fn encode_write_request_v2(entries: &[Entry<'_>], buf: &mut Vec<u8>) {
    // Most label values are shared between series, but one per series often is not (an
    // instance, a URL): room for a few new symbols per series avoids regrowing the map.
    let mut symbols = Symbols::new(64 + entries.len() * 3);
    // Every reference of the request in order: per entry its labels, then per exemplar its
    // labels; `cuts` marks where each of those runs ends. Metadata refs go in `meta`.
    let mut refs: Vec<u32> = Vec::with_capacity(entries.len() * 20);
    let mut cuts: Vec<usize> = Vec::with_capacity(entries.len());
    let mut meta: Vec<(i32, u32, u32)> = Vec::with_capacity(entries.len());
    for e in entries {
        symbols.series_into(e.series, &mut refs);
        cuts.push(refs.len());
        for x in e.exemplars {
            symbols.labels_into(&x.labels, &mut refs);
            cuts.push(refs.len());
        }
        let (help_hash, unit_hash) = e.series.metadata_hashes();
        meta.push(match e.series.metadata() {
            Some(m) => (
                metric_type(m.kind) as i32,
                symbols.intern_hashed(&m.help, help_hash),
                symbols.intern_hashed(&m.unit, unit_hash),
            ),
            None => (-1, 0, 0),
        });
    }

    let table_len: usize = symbols.table.iter().map(|s| field_len(s.len())).sum();
    buf.reserve(table_len + refs.len() * 2 + entries.len() * 40);
    for s in &symbols.table {
        encode_key(4, WireType::LengthDelimited, buf);
        encode_varint(s.len() as u64, buf);
        buf.extend_from_slice(s.as_bytes());
    }

    let mut cut = 0;
    let mut from = 0;
    let mut next_refs = || {
        let run = &refs[from..cuts[cut]];
        from = cuts[cut];
        cut += 1;
        run
    };
    let mut histograms: Vec<v2::Histogram> = Vec::new();
    for (e, &(kind, help, unit)) in entries.iter().zip(&meta) {
        let labels = next_refs();
        let exemplars: Vec<&[u32]> = e.exemplars.iter().map(|_| next_refs()).collect();
        let created = e.series.created_timestamp().unwrap_or(0);
        histograms.clear();
        histograms.extend(e.histograms.iter().map(|h| histogram(h, created)));

        let meta_len = if kind < 0 {
            None
        } else {
            Some(
                varint_field_len(kind as u64)
                    + varint_field_len(u64::from(help))
                    + varint_field_len(u64::from(unit)),
            )
        };
        let exemplar_len = |x: &prompb::Exemplar, refs: &[u32]| {
            packed_field_len(refs) + 1 + 8 + varint_field_len(x.timestamp as u64)
        };
        let mut len = packed_field_len(labels);
        len += e
            .samples
            .iter()
            .map(|s| field_len(sample_len(s, start_timestamp(created, s.value))))
            .sum::<usize>();
        len += histograms
            .iter()
            .map(|h| field_len(h.encoded_len()))
            .sum::<usize>();
        for (x, r) in e.exemplars.iter().zip(&exemplars) {
            len += field_len(exemplar_len(x, r));
        }
        if let Some(m) = meta_len {
            len += field_len(m);
        }

        encode_key(5, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        put_packed(1, labels, buf);
        for s in e.samples {
            let start = start_timestamp(created, s.value);
            encode_key(2, WireType::LengthDelimited, buf);
            encode_varint(sample_len(s, start) as u64, buf);
            encode_key(1, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&s.value.to_le_bytes());
            encode_key(2, WireType::Varint, buf);
            encode_varint(s.timestamp as u64, buf);
            put_varint_field(3, start as u64, buf);
        }
        for h in &histograms {
            encode_key(3, WireType::LengthDelimited, buf);
            encode_varint(h.encoded_len() as u64, buf);
            h.encode_raw(buf);
        }
        for (x, r) in e.exemplars.iter().zip(&exemplars) {
            encode_key(4, WireType::LengthDelimited, buf);
            encode_varint(exemplar_len(x, r) as u64, buf);
            put_packed(1, r, buf);
            encode_key(2, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&x.value.to_le_bytes());
            put_varint_field(3, x.timestamp as u64, buf);
        }
        if let Some(m) = meta_len {
            encode_key(5, WireType::LengthDelimited, buf);
            encode_varint(m as u64, buf);
            put_varint_field(1, kind as u64, buf);
            put_varint_field(3, u64::from(help), buf);
            put_varint_field(4, u64::from(unit), buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{Histogram, Sample, histogram as h1};
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
        let x = crate::encode::fixtures::trace_exemplar();
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
            Entry::with_exemplar(&a, &samples, &x),
            Entry::with_histogram(&b, &samples, &h),
        ];
        let mut raw = Vec::new();
        encode_write_request_v2(&entries, &mut raw);
        let got = v2::Request::decode(raw.as_slice()).unwrap();
        assert_eq!(
            got,
            write_request_v2(&entries),
            "the direct bytes are prost's message"
        );

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

    #[test]
    fn created_timestamps_go_on_every_sample_and_histogram_but_not_on_markers_or_gauges() {
        const CREATED: i64 = 1_700_000_000_000;
        const T: i64 = CREATED + 60_000;
        let counter = Series::new("reqs_total", [("job", "x")])
            .unwrap()
            .with_metadata(Metadata::new(MetricKind::Counter, "Requests."))
            .with_created_timestamp(CREATED);
        let hist = Series::new("lat_seconds", [("job", "x")])
            .unwrap()
            .with_created_timestamp(CREATED + 5);
        let gauge = Series::new("level", [("job", "x")]).unwrap();
        let samples = [
            Sample {
                value: 3.0,
                timestamp: T,
            },
            Sample {
                value: crate::series::stale_nan(),
                timestamp: T + 1,
            },
        ];
        let histograms = [
            Histogram {
                count: Some(h1::Count::CountInt(1)),
                sum: 0.5,
                timestamp: T,
                ..Default::default()
            },
            Histogram {
                sum: crate::series::stale_nan(),
                timestamp: T + 1,
                ..Default::default()
            },
        ];
        let entry = |series, samples, histograms| Entry {
            series,
            samples,
            histograms,
            exemplars: &[],
        };
        let entries = [
            entry(&counter, &samples, &[]),
            entry(&hist, &[], &histograms),
            entry(&gauge, &samples[..1], &[]),
        ];
        let mut raw = Vec::new();
        encode_write_request_v2(&entries, &mut raw);
        // Byte for byte (the markers' NaNs make the messages unequal to themselves).
        assert_eq!(
            raw,
            write_request_v2(&entries).encode_to_vec(),
            "direct bytes = prost's"
        );
        let got = v2::Request::decode(raw.as_slice()).unwrap();

        let starts = |ts: &v2::TimeSeries| -> Vec<i64> {
            ts.samples
                .iter()
                .map(|s| s.start_timestamp)
                .chain(ts.histograms.iter().map(|h| h.start_timestamp))
                .collect()
        };
        assert_eq!(
            starts(&got.timeseries[0]),
            [CREATED, 0],
            "counter, then its marker"
        );
        assert_eq!(
            starts(&got.timeseries[1]),
            [CREATED + 5, 0],
            "histogram, then its marker"
        );
        assert_eq!(
            starts(&got.timeseries[2]),
            [0],
            "a gauge has no created time"
        );
        assert_eq!(got.timeseries[0].samples[0].value, 3.0);
        assert_eq!(got.timeseries[0].samples[0].timestamp, T);

        // Field 3 of Sample as Prometheus' Go decoder reads it: tag 0x18, then the varint.
        let mut field = vec![0x18];
        encode_varint(CREATED as u64, &mut field);
        assert!(
            raw.windows(field.len()).any(|w| w == field.as_slice()),
            "start_timestamp is Sample field 3"
        );
    }
}
