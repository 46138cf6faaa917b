//! Whether this receiver takes native histograms, learnt from its answers and shared by
//! every shard: a stock Prometheus 2.x (remote-write receiver on, nothing else) rolls back
//! a whole request holding a native histogram with `500 native histograms are disabled`,
//! so without this the floats sent beside the histograms would be retried and then lost.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::batch::{Batch, Value};
use crate::classic::classic_samples;
use crate::config::{HistogramFallback, NativeHistograms};
use crate::stats::{DropReason, Kind, Stats};

/// What a receiver says when it does not store native histograms: Prometheus 2.x's
/// `storage.ErrNativeHistogramsDisabled` (500 from 2.42's write handler, 400 from later ones).
const REFUSAL: &str = "native histograms are disabled";

pub(crate) struct Negotiation {
    offer: bool,
    fallback: HistogramFallback,
    refused: AtomicBool,
}

impl Negotiation {
    pub(crate) fn new(offer: NativeHistograms, fallback: HistogramFallback) -> Self {
        Self {
            offer: offer == NativeHistograms::Offer,
            fallback,
            refused: AtomicBool::new(false),
        }
    }

    /// Native histograms go out as they are.
    pub(crate) fn sends_native(&self) -> bool {
        self.offer && !self.refused.load(Ordering::Relaxed)
    }

    /// True when `answer` (a status line and body) is the receiver refusing native
    /// histograms; the first time, says so once and what happens from now on.
    pub(crate) fn refused_by(&self, answer: &str) -> bool {
        if !answer.to_ascii_lowercase().contains(REFUSAL) {
            return false;
        }
        if !self.refused.swap(true, Ordering::Relaxed) {
            let instead = match self.fallback {
                HistogramFallback::Classic => {
                    "sending them as classic _bucket/_count/_sum series from now on (--native-histogram-fallback classic)"
                }
                HistogramFallback::Drop => {
                    "dropping them from now on and counting them lost (--native-histogram-fallback drop)"
                }
            };
            tracing::warn!(
                answer,
                "remote-write receiver does not take native histograms; {instead}; the other samples are resent"
            );
        }
        true
    }

    /// `batch` with its native histograms replaced as the fallback says: classic
    /// series, or nothing (counted as dropped). A histogram whose producer also sent its
    /// classic buckets is left out without a count: its data went as floats already.
    pub(crate) fn without_native(&self, batch: &Batch, stats: &Stats) -> Batch {
        let mut out = Batch::default();
        for entry in batch.items() {
            match entry {
                (series, ts, Value::Float(v)) => out.add(series, ts, Value::Float(v)),
                (series, ts, Value::Exemplar(e)) => out.add(series, ts, Value::Exemplar(e)),
                (_, _, Value::NativeBesideClassic(_)) => {}
                (series, ts, Value::Histogram(h)) => match self.fallback {
                    HistogramFallback::Drop => {
                        stats.dropped(Kind::Histogram, DropReason::HistogramsRefused, 1)
                    }
                    HistogramFallback::Classic => match classic_samples(series, &h) {
                        Ok(samples) => {
                            for (s, v) in samples {
                                out.add(&s, ts, Value::Float(v));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "a native histogram has no classic form; dropped");
                            stats.dropped(Kind::Histogram, DropReason::HistogramsRefused, 1);
                        }
                    },
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{BucketSpan, Histogram, histogram};
    use crate::series::Series;

    fn batch() -> Batch {
        let s = Series::new("lat", [("a", "1")]).unwrap();
        let both = Series::new("both", [("a", "1")]).unwrap();
        let h = Histogram {
            count: Some(histogram::Count::CountInt(2)),
            sum: 3.0,
            positive_spans: vec![BucketSpan {
                offset: 1,
                length: 1,
            }],
            positive_deltas: vec![2],
            timestamp: 7,
            ..Default::default()
        };
        let mut b = Batch::default();
        b.add(&s, 6, Value::Float(1.0));
        b.add(&s, 7, Value::Histogram(Box::new(h.clone())));
        b.add(&both, 7, Value::NativeBesideClassic(Box::new(h)));
        b
    }

    #[test]
    fn only_the_refusal_text_counts_and_it_is_remembered() {
        let n = Negotiation::new(NativeHistograms::Offer, HistogramFallback::Classic);
        assert!(n.sends_native());
        assert!(!n.refused_by("HTTP 500: out of bounds"));
        assert!(n.sends_native());
        assert!(n.refused_by("HTTP 500: Native histograms are disabled"));
        assert!(!n.sends_native());
        let never = Negotiation::new(NativeHistograms::Never, HistogramFallback::Classic);
        assert!(!never.sends_native());
    }

    #[test]
    fn classic_fallback_keeps_floats_and_converts_native_only_histograms() {
        let n = Negotiation::new(NativeHistograms::Offer, HistogramFallback::Classic);
        let stats = Stats::new();
        let out = n.without_native(&batch(), &stats);
        assert_eq!(out.histograms, 0);
        // The float, then lat_bucket{le="2"}, {le="+Inf"}, _count, _sum; nothing of "both".
        assert_eq!(out.floats, 5);
        assert_eq!(stats.snapshot().dropped(), 0);
        let names: Vec<_> = out
            .entries()
            .iter()
            .map(|e| e.series.name().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.starts_with("both")), "{names:?}");
    }

    #[test]
    fn drop_fallback_counts_what_it_drops() {
        let n = Negotiation::new(NativeHistograms::Offer, HistogramFallback::Drop);
        let stats = Stats::new();
        let out = n.without_native(&batch(), &stats);
        assert_eq!((out.floats, out.histograms), (1, 0));
        assert_eq!(stats.snapshot().dropped_histograms_refused, 1);
    }
}
