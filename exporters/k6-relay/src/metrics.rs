//! The relay's self-metrics, registered under their catalogue names
//! (`redline_catalogue::k6_relay`). Handles are resolved once; counting is an atomic add.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::k6_relay as cat;
use redline_runtime::register;

use crate::rejection::Rejection;

type Labels = Vec<(&'static str, &'static str)>;

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

/// `[float, histogram]` pairs.
#[derive(Clone)]
pub struct Metrics {
    requests: [Counter; 3],
    rejected: Family<Labels, Counter>,
    pub received: [Counter; 2],
    pub forwarded: [Counter; 2],
    pub buffered: [Counter; 2],
    dropped: Family<Labels, Counter>,
    pub buffer_bytes: Gauge,
    pub buffer_capacity: Gauge,
    pub series: Gauge,
}

const KINDS: [&str; 2] = ["float", "histogram"];

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests_f = Family::<Labels, Counter>::default();
        let rejected = Family::<Labels, Counter>::default();
        let received_f = Family::<Labels, Counter>::default();
        let forwarded_f = Family::<Labels, Counter>::default();
        let buffered_f = Family::<Labels, Counter>::default();
        let dropped = Family::<Labels, Counter>::default();
        let by_kind = |f: &Family<Labels, Counter>| {
            KINDS.map(|k| f.get_or_create(&vec![("kind", k)]).clone())
        };
        // Every label value exists from the start, so a rate() over a reason that never
        // happened reads 0 instead of nothing.
        for r in Rejection::REASONS {
            let _ = rejected.get_or_create(&vec![("reason", r)]);
        }
        for k in KINDS {
            for d in Drop::ALL {
                let _ = dropped.get_or_create(&vec![("kind", k), ("reason", d.as_str())]);
            }
        }
        let m = Self {
            requests: ["accepted", "rejected", "unavailable"]
                .map(|r| requests_f.get_or_create(&vec![("result", r)]).clone()),
            rejected,
            received: by_kind(&received_f),
            forwarded: by_kind(&forwarded_f),
            buffered: by_kind(&buffered_f),
            dropped,
            buffer_bytes: Gauge::default(),
            buffer_capacity: Gauge::default(),
            series: Gauge::default(),
        };
        register(registry, &cat::REQUESTS, requests_f);
        register(registry, &cat::REJECTED, m.rejected.clone());
        register(registry, &cat::RECEIVED_SAMPLES, received_f);
        register(registry, &cat::FORWARDED_SAMPLES, forwarded_f);
        register(registry, &cat::BUFFERED_SAMPLES, buffered_f);
        register(registry, &cat::DROPPED_SAMPLES, m.dropped.clone());
        register(registry, &cat::BUFFER_BYTES, m.buffer_bytes.clone());
        register(
            registry,
            &cat::BUFFER_CAPACITY_BYTES,
            m.buffer_capacity.clone(),
        );
        register(registry, &cat::SERIES, m.series.clone());
        m
    }

    pub fn request(&self, o: Outcome) {
        self.requests[o as usize].inc();
    }

    pub fn rejected(&self, r: &Rejection) {
        self.request(Outcome::Rejected);
        self.rejected
            .get_or_create(&vec![("reason", r.reason())])
            .inc();
    }

    pub fn dropped(&self, kind: usize, d: Drop, n: u64) {
        if n > 0 {
            self.dropped
                .get_or_create(&vec![("kind", KINDS[kind]), ("reason", d.as_str())])
                .inc_by(n);
        }
    }

    pub fn dropped_count(&self, d: Drop) -> u64 {
        KINDS
            .iter()
            .map(|k| {
                self.dropped
                    .get_or_create(&vec![("kind", *k), ("reason", d.as_str())])
                    .get()
            })
            .sum()
    }

    pub fn rejected_count(&self, reason: &'static str) -> u64 {
        self.rejected.get_or_create(&vec![("reason", reason)]).get()
    }

    pub fn requests_count(&self, o: Outcome) -> u64 {
        self.requests[o as usize].get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family the relay exposes is in the catalogue, under the exact name.
    #[test]
    fn every_exposed_family_is_catalogued() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.received[0].inc();
        let problems = redline_runtime::uncatalogued(&registry, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        let exposed: Vec<String> = redline_runtime::exposed_families(&registry)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for m in cat::ALL {
            assert!(
                exposed.iter().any(|e| e == m.name),
                "{} catalogued but not exposed",
                m.name
            );
        }
    }
}
