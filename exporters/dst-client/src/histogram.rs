//! A classic histogram of atomics with `observe_n`, for the stream hot path: one add of
//! 190 endpoints is one call, not 190, and recording never takes a lock. The alert rules
//! read these as classic `_bucket` series (alerts/README.md), so no native form is kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

#[derive(Debug)]
struct Inner {
    bounds: &'static [f64],
    /// One per bound plus +Inf; non-cumulative.
    counts: Box<[AtomicU64]>,
    /// Sum in nanoseconds-of-unit (1e-9), so it fits an atomic integer.
    sum_nanos: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct AtomicHistogram(Arc<Inner>);

impl AtomicHistogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Self(Arc::new(Inner {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }))
    }

    pub fn observe(&self, v: f64) {
        self.observe_n(v, 1);
    }

    /// Records `n` observations of `v`.
    pub fn observe_n(&self, v: f64, n: u64) {
        if n == 0 || v.is_nan() {
            return;
        }
        let v = v.max(0.0);
        let i = self.0.bounds.partition_point(|b| *b < v);
        self.0.counts[i].fetch_add(n, Ordering::Relaxed);
        self.0
            .sum_nanos
            .fetch_add((v * 1e9) as u64 * n, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn sum(&self) -> f64 {
        self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Observations at or below `bound` (which must be one of the bounds).
    pub fn count_le(&self, bound: f64) -> u64 {
        let i = self.0.bounds.partition_point(|b| *b < bound);
        self.0.counts[..=i.min(self.0.bounds.len())]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The smallest bound at or above `q` of the observations (None when empty).
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = (q * total as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.0.counts.iter().enumerate() {
            acc += c.load(Ordering::Relaxed);
            if acc >= want {
                return Some(self.0.bounds.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        Some(f64::INFINITY)
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

/// Registered under classic-histogram catalogue entries only: it keeps no native form.
impl redline_catalogue::Series<redline_catalogue::NoLabels, redline_catalogue::kinds::Histogram>
    for AtomicHistogram
{
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Counts first, count from them: a concurrent observe never makes +Inf < count.
        let buckets: Vec<(f64, u64)> = self
            .0
            .counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    self.0.bounds.get(i).copied().unwrap_or(f64::INFINITY),
                    c.load(Ordering::Relaxed),
                )
            })
            .collect();
        let count = buckets.iter().map(|b| b.1).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum(), count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sum_and_quantiles() {
        static B: [f64; 3] = [0.1, 1.0, 10.0];
        let h = AtomicHistogram::new(&B);
        h.observe_n(0.05, 3);
        h.observe(1.0);
        h.observe_n(5.0, 6);
        h.observe(50.0);
        assert_eq!(h.count(), 11);
        assert!((h.sum() - (0.15 + 1.0 + 30.0 + 50.0)).abs() < 1e-6);
        assert_eq!(h.count_le(0.1), 3);
        assert_eq!(h.count_le(1.0), 4);
        assert_eq!(h.count_le(10.0), 10);
        assert_eq!(h.quantile_bound(0.5), Some(10.0));
        assert_eq!(h.quantile_bound(0.25), Some(0.1));
        assert_eq!(h.quantile_bound(1.0), Some(f64::INFINITY));
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register("x_seconds", "x", h.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(text.contains("x_seconds_bucket{le=\"1.0\"} 4"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 11"), "{text}");
        assert!(text.contains("x_seconds_count 11"), "{text}");
    }
}
