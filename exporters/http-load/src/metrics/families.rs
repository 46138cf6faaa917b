//! Writing one metric family into a prometheus-client descriptor encoder: counters, gauges
//! and histograms (classic + native) from rows of label pairs and values.

use prometheus_client::encoding::{
    DescriptorEncoder, NativeHistogram, NativeHistogramBuckets, NoLabelSet,
};
use prometheus_client::metrics::MetricType;

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

pub fn counter(
    enc: &mut DescriptorEncoder,
    m: &redline_catalogue::Metric,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    let mut d =
        enc.encode_descriptor(m.family_name(), m.family_help(), None, MetricType::Counter)?;
    for (l, v) in rows {
        d.encode_family(l)?
            .encode_counter::<NoLabelSet, _, f64>(v, None)?;
    }
    Ok(())
}

pub fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    let mut d = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (l, v) in rows {
        d.encode_family(l)?.encode_gauge(v)?;
    }
    Ok(())
}

pub fn histogram(
    enc: &mut DescriptorEncoder,
    m: &redline_catalogue::Metric,
    rows: &[(L<'_>, &Timed)],
    scale: f64,
) -> Result<(), std::fmt::Error> {
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
