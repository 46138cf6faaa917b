//! Registry → remote-write series.
//!
//! The registry is read through prometheus-client's own protobuf encoder
//! (client_model `MetricFamily`), which carries native-histogram spans and deltas;
//! so `/metrics` and the push loop read one registry the same way and cannot
//! disagree about a value.

use prometheus_client::encoding::prometheus_protobuf::{encode, prometheus_data_model as pm};
use prometheus_client::registry::Registry;
use redline_remote_write::prompb::{self, BucketSpan, histogram};
use redline_remote_write::{Metadata, MetricKind, Series};

use crate::RuntimeError;

/// One sample of one series, ready for the remote writer.
#[derive(Debug, Clone)]
pub enum Collected {
    Float(Series, f64),
    /// A native histogram with no classic buckets: converted to classic series where the
    /// receiver does not take native histograms.
    Histogram(Series, Box<prompb::Histogram>),
    /// A native histogram whose classic buckets are collected too (as floats): left out
    /// where the receiver does not take native histograms.
    NativeBesideClassic(Series, Box<prompb::Histogram>),
}

/// Everything in `registry` as samples at `timestamp_ms`. Series that fail
/// validation are reported, not silently skipped.
pub fn collect(registry: &Registry, timestamp_ms: i64) -> Result<Vec<Collected>, RuntimeError> {
    let families = encode(registry).map_err(|e| RuntimeError::Collect(e.to_string()))?;
    let mut out = Vec::new();
    for f in &families {
        let kind = pm::MetricType::try_from(f.r#type).unwrap_or(pm::MetricType::Untyped);
        // What remote-write 2.0 sends beside each series: the family's type, help, unit.
        let metadata = Metadata::new(metric_kind(kind), f.help.clone()).with_unit(f.unit.clone());
        for m in &f.metric {
            let labels: Vec<(&str, &str)> = m
                .label
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            // When the metric started counting, where the library says (prometheus-client
            // does for native histograms); the push loop fills in the rest (crate::created).
            let created = match kind {
                pm::MetricType::Counter => m.counter.as_ref().and_then(|c| c.start_timestamp),
                pm::MetricType::Histogram => m.histogram.as_ref().and_then(|h| h.start_timestamp),
                _ => None,
            }
            .map(|t| t.seconds * 1_000 + i64::from(t.nanos) / 1_000_000);
            let series = |name: &str, extra: Option<(&str, String)>| {
                let mut l: Vec<(String, String)> = labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                if let Some((k, v)) = extra {
                    l.push((k.to_string(), v));
                }
                Series::new(name, l)
                    .map(|s| {
                        let s = s.with_metadata(metadata.clone());
                        match created {
                            Some(ms) => s.with_created_timestamp(ms),
                            None => s,
                        }
                    })
                    .map_err(|e| RuntimeError::Collect(e.to_string()))
            };
            // The `_sum` and `_count` a classic histogram and a summary both end with.
            let sum_and_count = |sum: f64, count: u64| -> Result<[Collected; 2], RuntimeError> {
                Ok([
                    Collected::Float(series(&format!("{}_sum", f.name), None)?, sum),
                    Collected::Float(series(&format!("{}_count", f.name), None)?, count as f64),
                ])
            };
            match kind {
                pm::MetricType::Counter => {
                    let v = m.counter.as_ref().map(|c| c.value).unwrap_or_default();
                    out.push(Collected::Float(series(&f.name, None)?, v));
                }
                pm::MetricType::Gauge => {
                    let v = m.gauge.as_ref().map(|g| g.value).unwrap_or_default();
                    out.push(Collected::Float(series(&f.name, None)?, v));
                }
                pm::MetricType::Untyped => {
                    let v = m.untyped.as_ref().map(|g| g.value).unwrap_or_default();
                    out.push(Collected::Float(series(&f.name, None)?, v));
                }
                pm::MetricType::Histogram | pm::MetricType::GaugeHistogram => {
                    let Some(h) = &m.histogram else { continue };
                    if is_native(h) {
                        let (s, n) = (series(&f.name, None)?, Box::new(native(h, timestamp_ms)));
                        out.push(if h.bucket.is_empty() {
                            Collected::Histogram(s, n)
                        } else {
                            Collected::NativeBesideClassic(s, n)
                        });
                    }
                    if !h.bucket.is_empty() {
                        let mut saw_inf = false;
                        for b in &h.bucket {
                            let le = if b.upper_bound == f64::MAX || b.upper_bound.is_infinite() {
                                saw_inf = true;
                                "+Inf".to_string()
                            } else {
                                b.upper_bound.to_string()
                            };
                            out.push(Collected::Float(
                                series(&format!("{}_bucket", f.name), Some(("le", le)))?,
                                b.cumulative_count as f64,
                            ));
                        }
                        if !saw_inf {
                            out.push(Collected::Float(
                                series(&format!("{}_bucket", f.name), Some(("le", "+Inf".into())))?,
                                h.sample_count as f64,
                            ));
                        }
                        out.extend(sum_and_count(h.sample_sum, h.sample_count)?);
                    }
                }
                pm::MetricType::Summary => {
                    let Some(s) = &m.summary else { continue };
                    for q in &s.quantile {
                        out.push(Collected::Float(
                            series(&f.name, Some(("quantile", q.quantile.to_string())))?,
                            q.value,
                        ));
                    }
                    out.extend(sum_and_count(s.sample_sum, s.sample_count)?);
                }
            }
        }
    }
    Ok(out)
}

fn metric_kind(t: pm::MetricType) -> MetricKind {
    match t {
        pm::MetricType::Counter => MetricKind::Counter,
        pm::MetricType::Gauge => MetricKind::Gauge,
        pm::MetricType::Summary => MetricKind::Summary,
        pm::MetricType::Untyped => MetricKind::Unknown,
        pm::MetricType::Histogram => MetricKind::Histogram,
        pm::MetricType::GaugeHistogram => MetricKind::GaugeHistogram,
    }
}

/// prometheus-client marks a native histogram the way client_golang does: a
/// schema with spans (an empty one gets a single zero-length span) or a zero bucket.
fn is_native(h: &pm::Histogram) -> bool {
    !h.positive_span.is_empty() || !h.negative_span.is_empty() || h.zero_threshold > 0.0
}

fn spans(s: &[pm::BucketSpan]) -> Vec<BucketSpan> {
    s.iter()
        // The zero-length placeholder span only marks "native" in client_model.
        .filter(|s| s.length > 0)
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn native(h: &pm::Histogram, timestamp_ms: i64) -> prompb::Histogram {
    let pos = spans(&h.positive_span);
    let neg = spans(&h.negative_span);
    prompb::Histogram {
        count: Some(histogram::Count::CountInt(h.sample_count)),
        sum: h.sample_sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(histogram::ZeroCount::ZeroCountInt(h.zero_count)),
        positive_deltas: if pos.is_empty() {
            Vec::new()
        } else {
            h.positive_delta.clone()
        },
        negative_deltas: if neg.is_empty() {
            Vec::new()
        } else {
            h.negative_delta.clone()
        },
        positive_spans: pos,
        negative_spans: neg,
        timestamp: timestamp_ms,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
    use redline_remote_write::now_millis;

    fn find<'a>(
        c: &'a [Collected],
        name: &str,
        label: Option<(&str, &str)>,
    ) -> Option<&'a Collected> {
        c.iter().find(|x| {
            let s = match x {
                Collected::Float(s, _)
                | Collected::Histogram(s, _)
                | Collected::NativeBesideClassic(s, _) => s,
            };
            s.name() == name && label.is_none_or(|(k, v)| s.label(k) == Some(v))
        })
    }

    #[test]
    fn counters_gauges_and_both_histogram_kinds_become_series() {
        let before = now_millis();
        let mut r = Registry::with_labels([("testid".into(), "t1".into())].into_iter());
        let c = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        c.get_or_create(&vec![("code", "200")]).inc_by(3);
        r.register("reqs", "r", c);
        let g = Gauge::<i64>::default();
        g.set(-4);
        r.register("level", "l", g);
        let h =
            Histogram::new_classic_and_native([0.1, 1.0], NativeHistogramConfig::with_schema(3));
        for v in [0.05, 0.5, 0.5, 5.0] {
            h.observe(v);
        }
        r.register("lat_seconds", "h", h);

        let got = collect(&r, 1000).unwrap();
        match find(&got, "reqs_total", Some(("code", "200"))).unwrap() {
            Collected::Float(s, v) => {
                assert_eq!(*v, 3.0);
                assert_eq!(s.label("testid"), Some("t1"));
                // What remote-write 2.0 sends beside it.
                let m = s.metadata().unwrap();
                assert_eq!((m.kind, m.help.as_str()), (MetricKind::Counter, "r."));
            }
            _ => panic!(),
        }
        assert!(matches!(find(&got, "level", None), Some(Collected::Float(_, v)) if *v == -4.0));
        let Some(Collected::Float(bucket_series, _)) =
            find(&got, "lat_seconds_bucket", Some(("le", "+Inf")))
        else {
            panic!("no +Inf bucket")
        };
        assert_eq!(
            bucket_series.metadata().map(|m| m.kind),
            Some(MetricKind::Histogram),
            "classic series carry their family's type"
        );
        let bucket = |le| match find(&got, "lat_seconds_bucket", Some(("le", le))) {
            Some(Collected::Float(_, v)) => *v,
            other => panic!("{le}: {other:?}"),
        };
        assert_eq!(bucket("0.1"), 1.0);
        assert_eq!(bucket("1"), 3.0);
        assert_eq!(bucket("+Inf"), 4.0);
        assert!(
            matches!(find(&got, "lat_seconds_count", None), Some(Collected::Float(_, v)) if *v == 4.0)
        );
        match find(&got, "lat_seconds", None).unwrap() {
            Collected::NativeBesideClassic(_, h) => {
                assert_eq!(h.count_value(), 4.0);
                assert_eq!(h.schema, 3);
                assert!((h.sum - 6.05).abs() < 1e-9);
                let buckets: i64 = h
                    .positive_deltas
                    .iter()
                    .scan(0, |acc, d| {
                        *acc += d;
                        Some(*acc)
                    })
                    .sum();
                assert_eq!(buckets, 4, "every observation is in a positive bucket");
                assert_eq!(h.timestamp, 1000);
            }
            other => panic!("{other:?}"),
        }
        // prometheus-client stamps a native histogram with its creation (a counter with
        // nothing): every series of it carries that time, the counter none yet.
        let created = |name, label| {
            let Some(Collected::Float(s, _) | Collected::NativeBesideClassic(s, _)) =
                find(&got, name, label)
            else {
                panic!("{name}")
            };
            s.created_timestamp()
        };
        let native = created("lat_seconds", None).expect("native histogram's created time");
        assert!((before..=now_millis()).contains(&native), "{native}");
        assert_eq!(
            created("lat_seconds_bucket", Some(("le", "+Inf"))),
            Some(native)
        );
        assert_eq!(created("lat_seconds_count", None), Some(native));
        assert_eq!(created("reqs_total", Some(("code", "200"))), None);
    }

    #[test]
    fn an_empty_native_histogram_has_no_zero_length_spans() {
        let mut r = Registry::default();
        r.register(
            "empty_seconds",
            "h",
            Histogram::new_native(NativeHistogramConfig::with_schema(3)),
        );
        let got = collect(&r, 1).unwrap();
        match find(&got, "empty_seconds", None).unwrap() {
            Collected::Histogram(_, h) => {
                assert!(h.positive_spans.is_empty());
                assert_eq!(h.count_value(), 0.0);
            }
            other => panic!("{other:?}"),
        }
    }
}
