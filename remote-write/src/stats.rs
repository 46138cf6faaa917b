//! Self-metrics: what was sent, retried, failed and dropped, and why.
//!
//! Handles are resolved once, so counting on the send path is one atomic add.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use redline_catalogue::remote_write::{self as cat, KindLabel, KindReason};

/// Why samples were given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue was full when a producer pushed.
    QueueFull,
    /// The receiver answered a 4xx other than 429: retrying cannot help.
    Rejected4xx,
    /// Still unsent when the shutdown deadline passed.
    ShutdownDeadline,
    /// Older than or equal to a sample already sent for the same series; sending it
    /// would make Prometheus reject the whole request.
    OutOfOrder,
    /// A native histogram the receiver does not take, with `--native-histogram-fallback drop`.
    HistogramsRefused,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::Rejected4xx => "rejected_4xx",
            Self::ShutdownDeadline => "shutdown_deadline",
            Self::OutOfOrder => "out_of_order",
            Self::HistogramsRefused => "histograms_refused",
        }
    }
    const ALL: [DropReason; 5] = [
        Self::QueueFull,
        Self::Rejected4xx,
        Self::ShutdownDeadline,
        Self::OutOfOrder,
        Self::HistogramsRefused,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Float,
    Histogram,
    Exemplar,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Float => "float",
            Kind::Histogram => "histogram",
            Kind::Exemplar => "exemplar",
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
    pub(crate) const ALL: [Kind; 3] = [Kind::Float, Kind::Histogram, Kind::Exemplar];
}

#[derive(Clone)]
pub struct Stats {
    sent_family: Family<KindLabel, Counter>,
    failed_family: Family<KindLabel, Counter>,
    retried_family: Family<KindLabel, Counter>,
    dropped_family: Family<KindReason, Counter>,
    unconfirmed_family: Family<KindLabel, Counter>,
    sent: [Counter; 3],
    failed: [Counter; 3],
    retried: [Counter; 3],
    dropped: [[Counter; 5]; 3],
    unconfirmed: [Counter; 3],
    pub(crate) queue_length: Gauge,
    pub(crate) queue_capacity: Gauge,
    pub(crate) send_duration: Histogram,
    pub(crate) highest_sent: Gauge<f64, std::sync::atomic::AtomicU64>,
}

/// A point-in-time copy of the counters, for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatsSnapshot {
    pub sent: u64,
    pub sent_histograms: u64,
    pub sent_exemplars: u64,
    /// Sent over remote-write 2.0 and answered 2xx, but not counted in the receiver's
    /// written-samples headers (all kinds).
    pub unconfirmed: u64,
    pub failed: u64,
    pub retried: u64,
    pub dropped_queue_full: u64,
    pub dropped_rejected: u64,
    pub dropped_shutdown: u64,
    pub dropped_out_of_order: u64,
    pub dropped_histograms_refused: u64,
    pub queue_length: i64,
}

impl StatsSnapshot {
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_rejected
            + self.dropped_shutdown
            + self.dropped_out_of_order
            + self.dropped_histograms_refused
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        let sent_family = Family::<KindLabel, Counter>::default();
        let failed_family = Family::<KindLabel, Counter>::default();
        let retried_family = Family::<KindLabel, Counter>::default();
        let dropped_family = Family::<KindReason, Counter>::default();
        let unconfirmed_family = Family::<KindLabel, Counter>::default();
        let by_kind = |f: &Family<KindLabel, Counter>| {
            Kind::ALL.map(|k| {
                f.get_or_create(&KindLabel {
                    kind: k.as_str().into(),
                })
                .clone()
            })
        };
        let dropped = Kind::ALL.map(|k| {
            DropReason::ALL.map(|r| {
                dropped_family
                    .get_or_create(&KindReason {
                        kind: k.as_str().into(),
                        reason: r.as_str().into(),
                    })
                    .clone()
            })
        });
        Self {
            sent: by_kind(&sent_family),
            failed: by_kind(&failed_family),
            retried: by_kind(&retried_family),
            unconfirmed: by_kind(&unconfirmed_family),
            dropped,
            sent_family,
            failed_family,
            retried_family,
            dropped_family,
            unconfirmed_family,
            queue_length: Gauge::default(),
            queue_capacity: Gauge::default(),
            send_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            highest_sent: Gauge::default(),
        }
    }

    /// Registers every family under its catalogue name.
    pub fn register(&self, registry: &mut Registry) {
        cat::Families {
            SAMPLES_SENT: self.sent_family.clone(),
            SAMPLES_FAILED: self.failed_family.clone(),
            SAMPLES_RETRIED: self.retried_family.clone(),
            SAMPLES_DROPPED: self.dropped_family.clone(),
            UNCONFIRMED: self.unconfirmed_family.clone(),
            QUEUE_LENGTH: self.queue_length.clone(),
            QUEUE_CAPACITY: self.queue_capacity.clone(),
            SEND_DURATION: self.send_duration.clone(),
            HIGHEST_SENT_TIMESTAMP: self.highest_sent.clone(),
        }
        .register(registry);
    }

    pub(crate) fn sent(&self, kind: Kind, n: u64) {
        self.sent[kind.idx()].inc_by(n);
    }
    pub(crate) fn failed(&self, kind: Kind, n: u64) {
        self.failed[kind.idx()].inc_by(n);
    }
    pub(crate) fn retried(&self, kind: Kind, n: u64) {
        self.retried[kind.idx()].inc_by(n);
    }
    pub(crate) fn unconfirmed(&self, kind: Kind, n: u64) {
        self.unconfirmed[kind.idx()].inc_by(n);
    }
    pub(crate) fn dropped(&self, kind: Kind, reason: DropReason, n: u64) {
        self.dropped[kind.idx()][reason as usize].inc_by(n);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let d = |r: DropReason| self.dropped.iter().map(|k| k[r as usize].get()).sum();
        let all = |c: &[Counter; 3]| c.iter().map(Counter::get).sum();
        StatsSnapshot {
            sent: self.sent[0].get(),
            sent_histograms: self.sent[1].get(),
            sent_exemplars: self.sent[2].get(),
            unconfirmed: all(&self.unconfirmed),
            failed: all(&self.failed),
            retried: all(&self.retried),
            dropped_queue_full: d(DropReason::QueueFull),
            dropped_rejected: d(DropReason::Rejected4xx),
            dropped_shutdown: d(DropReason::ShutdownDeadline),
            dropped_out_of_order: d(DropReason::OutOfOrder),
            dropped_histograms_refused: d(DropReason::HistogramsRefused),
            queue_length: self.queue_length.get(),
        }
    }
}
