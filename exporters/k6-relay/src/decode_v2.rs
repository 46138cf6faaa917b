//! A decompressed remote-write 2.0 body (`io.prometheus.write.v2.Request`) → the relay's
//! 1.0 `WriteRequest`, validated as the 2.0 specification asks: label references in range and
//! paired, samples and histograms not both in one series, native histograms whose buckets
//! add up. Anything else is a 400 naming the series, so a request is taken whole or not at all.
//!
//! What 2.0 carries beyond 1.0 is not lost silently: exemplars go on through redline's queue
//! (1.0's `TimeSeries.exemplars`); metadata and created timestamps are dropped, and the
//! response's written headers count only what the relay took.

use prost::Message;
use redline_remote_write::prompb::{self, Exemplar, Label, Sample, TimeSeries, WriteRequest};
use redline_remote_write::write_v2;

use crate::rejection::Rejection;

/// A 2.0 request in the relay's 1.0 form.
#[derive(Debug)]
pub struct DecodedV2 {
    pub request: WriteRequest,
    /// Exemplars the request held (all forwarded).
    pub exemplars: u64,
}

pub fn decode_v2(raw: &[u8]) -> Result<DecodedV2, Rejection> {
    let req = write_v2::Request::decode(raw)
        .map_err(|e| Rejection::Protobuf(format!("io.prometheus.write.v2.Request: {e}")))?;
    let symbols = &req.symbols;
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(Rejection::Protobuf(
            "io.prometheus.write.v2.Request: symbols[0] must be the empty string".into(),
        ));
    }
    let mut out = WriteRequest {
        timeseries: Vec::with_capacity(req.timeseries.len()),
        metadata: vec![],
    };
    let mut exemplars = 0u64;
    for (index, ts) in req.timeseries.into_iter().enumerate() {
        let labels = resolve(symbols, &ts.labels_refs, index, "labels_refs")?;
        if !ts.samples.is_empty() && !ts.histograms.is_empty() {
            return Err(Rejection::BadSeries {
                index,
                message: "holds both float samples and histograms (2.0 allows one kind per series)"
                    .into(),
            });
        }
        let mut kept_exemplars = Vec::with_capacity(ts.exemplars.len());
        for e in &ts.exemplars {
            kept_exemplars.push(Exemplar {
                labels: resolve(symbols, &e.labels_refs, index, "exemplar labels_refs")?,
                value: e.value,
                timestamp: e.timestamp,
            });
        }
        if let Some(m) = &ts.metadata {
            for (what, r) in [
                ("metadata help_ref", m.help_ref),
                ("metadata unit_ref", m.unit_ref),
            ] {
                symbol(symbols, r, index, what)?;
            }
        }
        exemplars += ts.exemplars.len() as u64;
        let mut histograms = Vec::with_capacity(ts.histograms.len());
        for h in ts.histograms {
            validate_histogram(&h).map_err(|message| Rejection::BadSeries {
                index,
                message: format!("native histogram: {message}"),
            })?;
            histograms.push(histogram_v1(h));
        }
        out.timeseries.push(TimeSeries {
            labels,
            samples: ts
                .samples
                .into_iter()
                .map(|s| Sample {
                    value: s.value,
                    timestamp: s.timestamp,
                })
                .collect(),
            histograms,
            exemplars: kept_exemplars,
        });
    }
    Ok(DecodedV2 {
        request: out,
        exemplars,
    })
}

fn symbol<'a>(
    symbols: &'a [String],
    r: u32,
    index: usize,
    what: &str,
) -> Result<&'a str, Rejection> {
    symbols
        .get(r as usize)
        .map(String::as_str)
        .ok_or_else(|| Rejection::BadSeries {
            index,
            message: format!(
                "{what} refers to symbol {r}, but the request has {} symbols",
                symbols.len()
            ),
        })
}

fn resolve(
    symbols: &[String],
    refs: &[u32],
    index: usize,
    what: &str,
) -> Result<Vec<Label>, Rejection> {
    if !refs.len().is_multiple_of(2) {
        return Err(Rejection::BadSeries {
            index,
            message: format!("{what} has an odd length {} (name/value pairs)", refs.len()),
        });
    }
    refs.chunks_exact(2)
        .map(|p| {
            Ok(Label {
                name: symbol(symbols, p[0], index, what)?.to_string(),
                value: symbol(symbols, p[1], index, what)?.to_string(),
            })
        })
        .collect()
}

/// Prometheus' own checks (`model/histogram`): a known schema, spans that cover exactly the
/// buckets given, no negative bucket, and a count that is the buckets' total (or, when the sum
/// is NaN because NaN was observed, at least that total).
fn validate_histogram(h: &write_v2::Histogram) -> Result<(), String> {
    use write_v2::histogram::{Count, ZeroCount};
    let custom = h.schema == -53;
    if !custom && !(-4..=8).contains(&h.schema) {
        return Err(format!(
            "schema {} is neither -4..8 nor -53 (custom buckets)",
            h.schema
        ));
    }
    if custom {
        if !h.negative_spans.is_empty()
            || !h.negative_deltas.is_empty()
            || !h.negative_counts.is_empty()
        {
            return Err("custom-bucket histograms have no negative buckets".into());
        }
        if h.custom_values.iter().any(|v| v.is_nan())
            || h.custom_values.windows(2).any(|w| w[0] >= w[1])
        {
            return Err("custom bucket bounds must be strictly increasing".into());
        }
    } else if !h.custom_values.is_empty() {
        return Err(format!(
            "custom bucket bounds given with schema {}",
            h.schema
        ));
    }
    let float = matches!(h.count, Some(Count::CountFloat(_)));
    let spans_len = |spans: &[write_v2::BucketSpan], side: &str| -> Result<usize, String> {
        if spans.iter().skip(1).any(|s| s.offset < 0) {
            return Err(format!("{side} span after the first has a negative offset"));
        }
        Ok(spans.iter().map(|s| s.length as usize).sum())
    };
    let mut total = 0.0f64;
    for (side, spans, deltas, counts) in [
        (
            "positive",
            &h.positive_spans,
            &h.positive_deltas,
            &h.positive_counts,
        ),
        (
            "negative",
            &h.negative_spans,
            &h.negative_deltas,
            &h.negative_counts,
        ),
    ] {
        let n = spans_len(spans, side)?;
        if float {
            if !deltas.is_empty() || counts.len() != n {
                return Err(format!(
                    "{side} spans cover {n} buckets but a float histogram gives {} counts (and {} integer deltas)",
                    counts.len(),
                    deltas.len()
                ));
            }
            if counts.iter().any(|c| c.is_nan() || *c < 0.0) {
                return Err(format!("{side} bucket count below zero or NaN"));
            }
            total += counts.iter().sum::<f64>();
        } else {
            if !counts.is_empty() || deltas.len() != n {
                return Err(format!(
                    "{side} spans cover {n} buckets but an integer histogram gives {} deltas (and {} float counts)",
                    deltas.len(),
                    counts.len()
                ));
            }
            let mut c = 0i64;
            for d in deltas {
                c = c.checked_add(*d).ok_or("bucket count overflows")?;
                if c < 0 {
                    return Err(format!("{side} bucket count below zero"));
                }
                total += c as f64;
            }
        }
    }
    let zero = match h.zero_count {
        Some(ZeroCount::ZeroCountInt(z)) => z as f64,
        Some(ZeroCount::ZeroCountFloat(z)) => z,
        None => 0.0,
    };
    if zero.is_nan() || zero < 0.0 {
        return Err("zero bucket count below zero or NaN".into());
    }
    total += zero;
    let count = match h.count {
        Some(Count::CountInt(c)) => c as f64,
        Some(Count::CountFloat(c)) => c,
        None => 0.0,
    };
    if h.sum.is_nan() {
        if total > count {
            return Err(format!(
                "count {count} is less than its buckets' total {total}"
            ));
        }
    } else if !float && total != count {
        return Err(format!("count {count} is not its buckets' total {total}"));
    } else if float && total > count * (1.0 + 1e-9) {
        return Err(format!(
            "count {count} is less than its buckets' total {total}"
        ));
    }
    Ok(())
}

fn histogram_v1(h: write_v2::Histogram) -> prompb::Histogram {
    use prompb::histogram as v1;
    use write_v2::histogram as v2;
    let spans = |s: Vec<write_v2::BucketSpan>| {
        s.into_iter()
            .map(|s| prompb::BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    prompb::Histogram {
        count: h.count.map(|c| match c {
            v2::Count::CountInt(c) => v1::Count::CountInt(c),
            v2::Count::CountFloat(c) => v1::Count::CountFloat(c),
        }),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count.map(|z| match z {
            v2::ZeroCount::ZeroCountInt(z) => v1::ZeroCount::ZeroCountInt(z),
            v2::ZeroCount::ZeroCountFloat(z) => v1::ZeroCount::ZeroCountFloat(z),
        }),
        negative_spans: spans(h.negative_spans),
        negative_deltas: h.negative_deltas,
        negative_counts: h.negative_counts,
        positive_spans: spans(h.positive_spans),
        positive_deltas: h.positive_deltas,
        positive_counts: h.positive_counts,
        reset_hint: h.reset_hint,
        timestamp: h.timestamp,
        custom_values: h.custom_values,
    }
}

#[cfg(test)]
mod tests;
