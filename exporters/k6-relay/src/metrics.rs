//! The relay's self-metrics, registered under their catalogue names
//! (`redline_catalogue::k6_relay`). Handles are resolved once; counting is an atomic add.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::k6_relay::{self as cat, KindLabel, KindReason, ReasonLabel, ResultLabel};

use crate::rejection::Rejection;

/// Why the relay gave samples up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// The queue was full and there is no disk buffer (the request got 503).
    QueueFull,
    /// The queue and the disk buffer were full (503).
    BufferFull,
    /// A disk-buffer record failed its checksum or did not decode.
    BufferCorrupt,
    /// Still on disk when the relay exited (the next start with the same directory replays it).
    LeftInBuffer,
    /// Dropping a label merged two series and the samples could not be added up.
    LabelCollision,
}

impl Drop {
    pub const ALL: [Drop; 5] = [
        Self::QueueFull,
        Self::BufferFull,
        Self::BufferCorrupt,
        Self::LeftInBuffer,
        Self::LabelCollision,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::BufferFull => "buffer_full",
            Self::BufferCorrupt => "buffer_corrupt",
            Self::LeftInBuffer => "left_in_buffer",
            Self::LabelCollision => "label_collision",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
    Unavailable,
}

/// `[float, histogram, exemplar]` triples.
#[derive(Clone)]
pub struct Metrics {
    requests: [Counter; 3],
    rejected: Family<ReasonLabel, Counter>,
    pub received: [Counter; 3],
    pub forwarded: [Counter; 3],
    pub buffered: [Counter; 3],
    dropped: Family<KindReason, Counter>,
    pub buffer_bytes: Gauge,
    pub buffer_capacity: Gauge,
    pub series: Gauge,
}

const KINDS: [&str; 3] = ["float", "histogram", "exemplar"];

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests_f = Family::<ResultLabel, Counter>::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let received_f = Family::<KindLabel, Counter>::default();
        let forwarded_f = Family::<KindLabel, Counter>::default();
        let buffered_f = Family::<KindLabel, Counter>::default();
        let dropped = Family::<KindReason, Counter>::default();
        let by_kind = |f: &Family<KindLabel, Counter>| {
            KINDS.map(|kind| f.get_or_create(&KindLabel { kind: kind.into() }).clone())
        };
        // Every label value exists from the start, so a rate() over a reason that never
        // happened reads 0 instead of nothing.
        for r in Rejection::REASONS {
            let _ = rejected.get_or_create(&reason(r));
        }
        for k in KINDS {
            for d in Drop::ALL {
                let _ = dropped.get_or_create(&kind_reason(k, d));
            }
        }
        let m = Self {
            requests: ["accepted", "rejected", "unavailable"].map(|result| {
                requests_f
                    .get_or_create(&ResultLabel {
                        result: result.into(),
                    })
                    .clone()
            }),
            rejected,
            received: by_kind(&received_f),
            forwarded: by_kind(&forwarded_f),
            buffered: by_kind(&buffered_f),
            dropped,
            buffer_bytes: Gauge::default(),
            buffer_capacity: Gauge::default(),
            series: Gauge::default(),
        };
        cat::Families {
            REQUESTS: requests_f,
            REJECTED: m.rejected.clone(),
            RECEIVED_SAMPLES: received_f,
            FORWARDED_SAMPLES: forwarded_f,
            BUFFERED_SAMPLES: buffered_f,
            DROPPED_SAMPLES: m.dropped.clone(),
            BUFFER_BYTES: m.buffer_bytes.clone(),
            BUFFER_CAPACITY_BYTES: m.buffer_capacity.clone(),
            SERIES: m.series.clone(),
        }
        .register(registry);
        m
    }

    pub fn request(&self, o: Outcome) {
        self.requests[o as usize].inc();
    }

    pub fn rejected(&self, r: &Rejection) {
        self.request(Outcome::Rejected);
        self.rejected.get_or_create(&reason(r.reason())).inc();
    }

    pub fn dropped(&self, kind: usize, d: Drop, n: u64) {
        if n > 0 {
            self.dropped
                .get_or_create(&kind_reason(KINDS[kind], d))
                .inc_by(n);
        }
    }

    pub fn dropped_count(&self, d: Drop) -> u64 {
        KINDS
            .iter()
            .map(|k| self.dropped.get_or_create(&kind_reason(k, d)).get())
            .sum()
    }

    pub fn rejected_count(&self, reason: &'static str) -> u64 {
        self.rejected.get_or_create(&self::reason(reason)).get()
    }

    pub fn requests_count(&self, o: Outcome) -> u64 {
        self.requests[o as usize].get()
    }
}

fn reason(reason: &str) -> ReasonLabel {
    ReasonLabel {
        reason: reason.into(),
    }
}

fn kind_reason(kind: &str, d: Drop) -> KindReason {
    KindReason {
        kind: kind.into(),
        reason: d.as_str().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family, and every reason and kind of the labelled ones, is there at 0 before
    /// anything happened, so dashboards and alerts read 0 rather than no data.
    #[test]
    fn every_series_exists_from_the_start() {
        let mut registry = Registry::default();
        let _m = Metrics::register(&mut registry);
        let problems = redline_runtime::catalogue_mismatches(&registry, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for series in [
            r#"redline_relay_rejected_requests_total{reason="path"} 0"#,
            r#"redline_relay_dropped_samples_total{kind="histogram",reason="label_collision"} 0"#,
            r#"redline_relay_requests_total{result="unavailable"} 0"#,
        ] {
            assert!(text.contains(series), "{series} missing:\n{text}");
        }
    }
}
