//! The created time of each cumulative series the push loop sends, which remote-write 2.0
//! carries as its samples' `start_timestamp` (a receiver such as Prometheus 3 with
//! `created-timestamp-zero-ingestion` stores a zero there, so the first increase of a
//! counter that appears mid-run counts in `rate()` and `increase()`).
//!
//! Prometheus' client libraries stamp a counter (and each labelled child) with the instant
//! it was created. prometheus-client does that for native histograms only (their
//! `start_timestamp`, which also moves when a histogram resets), and that time is used as
//! is. For counters and classic histograms it records none, so the push loop takes the
//! closest bound it knows: 1 ms after the last collection that did not have the series (for
//! the first collection, the registry's creation, before which no metric existed; the push
//! loop keeps every collection later than that, since Prometheus ignores a created time
//! that is not older than the sample). A series
//! keeps that time for as long as every collection has it; one that vanishes and returns
//! counts from its return.

use std::collections::HashMap;

use redline_remote_write::{MetricKind, Series};

/// Whether `series` counts from a start (a counter, or a histogram's buckets, count and
/// sum); a gauge's, a gauge histogram's and a summary's quantiles have no created time.
fn is_cumulative(series: &Series) -> bool {
    matches!(
        series.metadata().map(|m| m.kind),
        Some(MetricKind::Counter | MetricKind::Histogram)
    )
}

/// `series` with its created time: the one its metric gave, else the one it had in the
/// `previous` collection, else 1 ms after `absent_at` (the previous collection's time, which
/// did not have it). Non-cumulative series are returned as they are. The created time is
/// always older than `sampled_at`, the collection's timestamp: Prometheus ignores one that
/// is not, and a native histogram made and first collected within one millisecond (its own
/// time is prometheus-client's) would otherwise lose its zero.
pub(crate) fn stamp<V>(
    series: Series,
    previous: &HashMap<Series, V>,
    absent_at: i64,
    sampled_at: i64,
) -> Series {
    if !is_cumulative(&series) {
        return series;
    }
    if let Some(given) = series.created_timestamp() {
        return if given < sampled_at {
            series
        } else {
            series.with_created_timestamp(sampled_at - 1)
        };
    }
    let created = previous
        .get_key_value(&series)
        .and_then(|(known, _)| known.created_timestamp())
        .unwrap_or(absent_at + 1);
    series.with_created_timestamp(created)
}

#[cfg(test)]
mod tests {
    use redline_remote_write::Metadata;

    use super::*;

    fn of(kind: MetricKind) -> Series {
        Series::new("m", [("a", "1")])
            .unwrap()
            .with_metadata(Metadata::new(kind, "h"))
    }

    #[test]
    fn a_new_counter_counts_from_just_after_the_collection_that_lacked_it_and_keeps_that() {
        let none: HashMap<Series, ()> = HashMap::new();
        let first = stamp(of(MetricKind::Counter), &none, 1_000, 2_000);
        assert_eq!(first.created_timestamp(), Some(1_001));
        let previous = HashMap::from([(first, ())]);
        let later = stamp(of(MetricKind::Counter), &previous, 5_000, 6_000);
        assert_eq!(
            later.created_timestamp(),
            Some(1_001),
            "kept while it is collected"
        );
        // Gone from the collection at 5 000, back at the next: counting again from then.
        let back = stamp(of(MetricKind::Counter), &none, 5_000, 6_000);
        assert_eq!(back.created_timestamp(), Some(5_001));
    }

    #[test]
    fn a_time_the_metric_gave_wins_and_gauges_get_none() {
        let none: HashMap<Series, ()> = HashMap::new();
        let given = of(MetricKind::Histogram).with_created_timestamp(42);
        assert_eq!(
            stamp(given, &none, 1_000, 2_000).created_timestamp(),
            Some(42)
        );
        for kind in [
            MetricKind::Gauge,
            MetricKind::GaugeHistogram,
            MetricKind::Summary,
            MetricKind::Unknown,
        ] {
            assert_eq!(
                stamp(of(kind), &none, 1_000, 2_000).created_timestamp(),
                None,
                "{kind:?}"
            );
        }
        // Made in the millisecond it is first collected: its zero goes 1 ms before.
        let same_ms = of(MetricKind::Histogram).with_created_timestamp(2_000);
        assert_eq!(
            stamp(same_ms, &none, 1_000, 2_000).created_timestamp(),
            Some(1_999)
        );
        let bare = Series::new("m", [("a", "1")]).unwrap();
        assert_eq!(stamp(bare, &none, 1_000, 2_000).created_timestamp(), None);
    }
}
