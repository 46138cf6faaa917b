//! A native histogram as classic `_bucket{le}`, `_count` and `_sum` float samples: what
//! is sent instead when a receiver refuses native histograms (a stock Prometheus 2.x
//! answers `500 native histograms are disabled`). The bucket boundaries of a native
//! histogram are exact (`2^(i·2^-schema)`, or the custom bounds of schema -53), so the
//! classic form carries the same counts, at the native histogram's resolution.

use crate::prompb::{BucketSpan, Histogram, histogram};
use crate::series::{InvalidSeries, Series, is_stale_nan, stale_nan};

/// The schema of native histograms with custom bucket bounds (`custom_values`).
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Float samples standing for `h` of `series` (whose name is the histogram's): one
/// cumulative `<name>_bucket{le}` per bucket boundary plus `le="+Inf"`, `<name>_count`
/// and `<name>_sum`. A staleness marker (sum is StaleNaN) becomes StaleNaN on
/// `_count`, `_sum` and `_bucket{le="+Inf"}`.
pub(crate) fn classic_samples(
    series: &Series,
    h: &Histogram,
) -> Result<Vec<(Series, f64)>, InvalidSeries> {
    let name = series.name();
    let others: Vec<(&str, &str)> = series
        .labels()
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    let named = |suffix: &str, le: Option<String>| {
        let mut labels: Vec<(String, String)> = others
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(le) = le {
            labels.retain(|(k, _)| k != "le");
            labels.push(("le".into(), le));
        }
        Series::new(&format!("{name}{suffix}"), labels)
    };
    let mut out = Vec::new();
    if is_stale_nan(h.sum) {
        out.push((named("_bucket", Some("+Inf".into()))?, stale_nan()));
        out.push((named("_count", None)?, stale_nan()));
        out.push((named("_sum", None)?, stale_nan()));
        return Ok(out);
    }
    let count = match h.count {
        Some(histogram::Count::CountInt(n)) => n as f64,
        Some(histogram::Count::CountFloat(f)) => f,
        None => 0.0,
    };
    let mut cumulative = 0.0;
    for (le, n) in buckets(h) {
        cumulative += n;
        if le.is_finite() {
            out.push((named("_bucket", Some(format_le(le)))?, cumulative));
        }
    }
    out.push((named("_bucket", Some("+Inf".into()))?, count));
    out.push((named("_count", None)?, count));
    out.push((named("_sum", None)?, h.sum));
    Ok(out)
}

/// Prometheus' own `le` formatting: shortest round-trip float, `+Inf` for infinity.
fn format_le(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        v.to_string()
    }
}

/// Every bucket of `h` as (upper bound, count), in increasing order of bound: negative
/// buckets (most negative first), the zero bucket, positive buckets.
fn buckets(h: &Histogram) -> Vec<(f64, f64)> {
    let custom = h.schema == CUSTOM_BUCKETS_SCHEMA;
    let upper = |i: i32| -> f64 {
        if custom {
            // Bucket i of a custom-bounds histogram ends at custom_values[i], the last at +Inf.
            h.custom_values
                .get(i.max(0) as usize)
                .copied()
                .unwrap_or(f64::INFINITY)
        } else {
            // base = 2^(2^-schema); bucket i is (base^(i-1), base^i].
            (i as f64 * (-h.schema as f64).exp2()).exp2()
        }
    };
    let mut out = Vec::new();
    if !custom {
        // Negative bucket i is [-base^i, -base^(i-1)): its upper bound is -base^(i-1).
        let mut neg = indexed(&h.negative_spans, &h.negative_deltas, &h.negative_counts);
        neg.sort_by_key(|&(i, _)| std::cmp::Reverse(i));
        out.extend(neg.into_iter().map(|(i, n)| (-upper(i - 1), n)));
        let zero = match h.zero_count {
            Some(histogram::ZeroCount::ZeroCountInt(n)) => n as f64,
            Some(histogram::ZeroCount::ZeroCountFloat(f)) => f,
            None => 0.0,
        };
        if zero > 0.0 || h.zero_threshold > 0.0 {
            out.push((h.zero_threshold, zero));
        }
    }
    out.extend(
        indexed(&h.positive_spans, &h.positive_deltas, &h.positive_counts)
            .into_iter()
            .map(|(i, n)| (upper(i), n)),
    );
    out
}

/// (bucket index, count) of one side: spans give the indices, deltas (integer
/// histograms) or absolute counts (float histograms) the counts.
fn indexed(spans: &[BucketSpan], deltas: &[i64], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::new();
    let mut index = 0i32;
    let mut pos = 0usize;
    let mut running = 0i64;
    for (k, span) in spans.iter().enumerate() {
        index = if k == 0 {
            span.offset
        } else {
            index + span.offset
        };
        for _ in 0..span.length {
            let n = if counts.is_empty() {
                running += deltas.get(pos).copied().unwrap_or(0);
                running as f64
            } else {
                counts.get(pos).copied().unwrap_or(0.0)
            };
            out.push((index, n));
            index += 1;
            pos += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(out: &[(Series, f64)], name: &str, le: Option<&str>) -> f64 {
        out.iter()
            .find(|(s, _)| s.name() == name && s.label("le") == le)
            .unwrap_or_else(|| panic!("no {name} le={le:?} in {out:?}"))
            .1
    }

    #[test]
    fn integer_buckets_become_cumulative_classic_buckets_at_exact_bounds() {
        // Schema 0: bucket i is (2^(i-1), 2^i]. Buckets 0 and 1 (spans: 0..2), then 4 (gap 2).
        let h = Histogram {
            count: Some(histogram::Count::CountInt(9)),
            sum: 20.0,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(histogram::ZeroCount::ZeroCountInt(1)),
            positive_spans: vec![
                BucketSpan {
                    offset: 0,
                    length: 2,
                },
                BucketSpan {
                    offset: 2,
                    length: 1,
                },
            ],
            // Counts 2, 5, 1.
            positive_deltas: vec![2, 3, -4],
            ..Default::default()
        };
        let s = Series::new("lat_seconds", [("job", "x")]).unwrap();
        let out = classic_samples(&s, &h).unwrap();
        assert_eq!(value(&out, "lat_seconds_bucket", Some("0.001")), 1.0);
        assert_eq!(value(&out, "lat_seconds_bucket", Some("1")), 3.0);
        assert_eq!(value(&out, "lat_seconds_bucket", Some("2")), 8.0);
        assert_eq!(value(&out, "lat_seconds_bucket", Some("16")), 9.0);
        assert_eq!(value(&out, "lat_seconds_bucket", Some("+Inf")), 9.0);
        assert_eq!(value(&out, "lat_seconds_count", None), 9.0);
        assert_eq!(value(&out, "lat_seconds_sum", None), 20.0);
        assert!(out.iter().all(|(s, _)| s.label("job") == Some("x")));
        assert_eq!(out.len(), 7);
    }

    #[test]
    fn negative_float_and_custom_bucket_histograms_convert_too() {
        // Schema 1: base √2. Negative bucket 2 holds [-2, -√2): its le is -√2.
        let h = Histogram {
            count: Some(histogram::Count::CountFloat(3.0)),
            sum: -1.0,
            schema: 1,
            negative_spans: vec![BucketSpan {
                offset: 2,
                length: 1,
            }],
            negative_counts: vec![1.0],
            positive_spans: vec![BucketSpan {
                offset: 2,
                length: 1,
            }],
            positive_counts: vec![2.0],
            ..Default::default()
        };
        let s = Series::new("x", [("a", "b")]).unwrap();
        let out = classic_samples(&s, &h).unwrap();
        let sqrt2 = 2f64.sqrt();
        assert_eq!(value(&out, "x_bucket", Some(&format_le(-sqrt2))), 1.0);
        assert_eq!(value(&out, "x_bucket", Some("2")), 3.0);

        let custom = Histogram {
            count: Some(histogram::Count::CountInt(4)),
            sum: 1.0,
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![0.1, 0.5],
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 3,
            }],
            positive_deltas: vec![1, 1, -1],
            ..Default::default()
        };
        let out = classic_samples(&s, &custom).unwrap();
        assert_eq!(value(&out, "x_bucket", Some("0.1")), 1.0);
        assert_eq!(value(&out, "x_bucket", Some("0.5")), 3.0);
        assert_eq!(value(&out, "x_bucket", Some("+Inf")), 4.0);
    }

    #[test]
    fn a_staleness_marker_marks_count_sum_and_the_inf_bucket_stale() {
        let s = Series::new("h", [("a", "b")]).unwrap();
        let out = classic_samples(
            &s,
            &Histogram {
                sum: stale_nan(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|(_, v)| is_stale_nan(*v)));
    }
}
