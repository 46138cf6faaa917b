//! Writing one metric family into a prometheus-client descriptor encoder: counters, gauges
//! and histograms (classic + native) from rows of label pairs and values.
//!
//! Each takes the family's typed catalogue entry, so a family can only be written as the
//! kind the catalogue declares (a counter entry does not fit [`gauge`]), under its name and
//! help; every row is checked (in debug builds, so in every test) to carry the entry's keys.

use prometheus_client::encoding::{
    DescriptorEncoder, MetricEncoder, NativeHistogram, NativeHistogramBuckets, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use redline_catalogue::{Catalogued, LabelSet, kinds};

use super::export::{NATIVE_SCHEMA, ZERO_THRESHOLD, export};
use super::timed::Timed;

/// One series' label pairs, built-in keys first, then tags.
pub type L<'a> = Vec<(&'a str, &'a str)>;

/// `l` with `tags` appended (tag keys never collide with built-in keys: see
/// `scenario::validate_tags`).
pub fn tagged<'a>(mut l: L<'a>, tags: &'a [(String, String)]) -> L<'a> {
    l.extend(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    l
}

/// Whether `l` carries every key the entry lists (besides them, only the tags).
fn has_keys<S: LabelSet>(l: &L<'_>) -> bool {
    S::KEYS.iter().all(|k| l.iter().any(|(key, _)| key == k))
}

pub fn counter<S: LabelSet>(
    enc: &mut DescriptorEncoder,
    m: &Catalogued<S, kinds::Counter>,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    scalar(enc, m, MetricType::Counter, rows, |e, v| {
        e.encode_counter::<NoLabelSet, _, f64>(v, None)
    })
}

pub fn gauge<S: LabelSet>(
    enc: &mut DescriptorEncoder,
    m: &Catalogued<S, kinds::Gauge>,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    scalar(enc, m, MetricType::Gauge, rows, |e, v| e.encode_gauge(v))
}

/// A family of one value per series, each written by `write`; only [`counter`] and [`gauge`]
/// call it, so the kind always matches the entry's.
fn scalar<S: LabelSet, K>(
    enc: &mut DescriptorEncoder,
    m: &Catalogued<S, K>,
    kind: MetricType,
    rows: &[(L<'_>, f64)],
    write: impl Fn(&mut MetricEncoder<'_>, &f64) -> Result<(), std::fmt::Error>,
) -> Result<(), std::fmt::Error> {
    debug_assert!(rows.iter().all(|(l, _)| has_keys::<S>(l)), "{}", m.name);
    // A gauge's family name is its name; a counter's drops `_total`, which the encoder adds.
    let mut d = enc.encode_descriptor(m.family_name(), m.family_help(), None, kind)?;
    for (l, v) in rows {
        write(&mut d.encode_family(l)?, v)?;
    }
    Ok(())
}

/// Classic and native buckets together, as the catalogue's `HistogramBoth` says.
pub fn histogram<S: LabelSet>(
    enc: &mut DescriptorEncoder,
    m: &Catalogued<S, kinds::HistogramBoth>,
    rows: &[(L<'_>, &Timed)],
    scale: f64,
) -> Result<(), std::fmt::Error> {
    debug_assert!(rows.iter().all(|(l, _)| has_keys::<S>(l)), "{}", m.name);
    let mut d = enc.encode_descriptor(
        m.family_name(),
        m.family_help(),
        None,
        MetricType::Histogram,
    )?;
    for (l, t) in rows {
        let e = export(t, scale);
        d.encode_family(l)?
            .encode_histogram_with_native::<NoLabelSet>(
                e.sum,
                e.count,
                &e.classic,
                None,
                NativeHistogram {
                    schema: NATIVE_SCHEMA,
                    zero_threshold: ZERO_THRESHOLD,
                    zero_count: e.zero_count,
                    negative: NativeHistogramBuckets {
                        spans: &[],
                        deltas: &[],
                    },
                    positive: NativeHistogramBuckets {
                        spans: &e.spans,
                        deltas: &e.deltas,
                    },
                    created: None,
                },
            )?;
    }
    Ok(())
}
