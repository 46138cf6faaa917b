//! What the target measures: requests answered, per endpoint and status, read in-process
//! through [`crate::TargetHandle::stats`] (the target writes no series of its own; the load
//! generator's are the ones judged). A fixed table of atomics keeps the hot path to one
//! relaxed `fetch_add`; readers sum at read time.

use std::sync::atomic::{AtomicU64, Ordering};

/// The endpoint families the target serves, as counted in [`RequestStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /` and `/autoscale` (autoscale-go).
    Autoscale,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `GET /v1/models`.
    Models,
    /// `POST /api/v1/predict/{id}`.
    Predict,
    /// `GET /health` and `/api/v1/predict/{id}/health`.
    Health,
    /// `/kv/{key}`.
    Kv,
    /// Anything else (404 and 405).
    Other,
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Autoscale,
        Endpoint::Completions,
        Endpoint::ChatCompletions,
        Endpoint::Models,
        Endpoint::Predict,
        Endpoint::Health,
        Endpoint::Kv,
        Endpoint::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Autoscale => "autoscale",
            Endpoint::Completions => "completions",
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Models => "models",
            Endpoint::Predict => "predict",
            Endpoint::Health => "health",
            Endpoint::Kv => "kv",
            Endpoint::Other => "other",
        }
    }
}

const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500; // 100..=599, every status hyper can send

/// Request counts by endpoint and status, shared by the server and its [`crate::TargetHandle`].
#[derive(Debug)]
pub struct RequestStats {
    counts: Box<[AtomicU64]>,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self {
            counts: (0..Endpoint::ALL.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl RequestStats {
    fn slot(endpoint: Endpoint, status: u16) -> Option<usize> {
        let s = status.checked_sub(FIRST_STATUS)? as usize;
        (s < STATUSES).then_some(endpoint as usize * STATUSES + s)
    }

    pub(crate) fn record(&self, endpoint: Endpoint, status: u16) {
        if let Some(i) = Self::slot(endpoint, status) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests to `endpoint` answered with `status`.
    pub fn count(&self, endpoint: Endpoint, status: u16) -> u64 {
        Self::slot(endpoint, status).map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    /// Requests to `endpoint`, any status.
    pub fn endpoint_total(&self, endpoint: Endpoint) -> u64 {
        let start = endpoint as usize * STATUSES;
        self.counts[start..start + STATUSES]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Every request answered so far.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Non-zero counts as `(endpoint, status, count)`, ordered by endpoint then status.
    pub fn snapshot(&self) -> Vec<(Endpoint, u16, u64)> {
        let mut out = Vec::new();
        for endpoint in Endpoint::ALL {
            for s in 0..STATUSES {
                let n = self.counts[endpoint as usize * STATUSES + s].load(Ordering::Relaxed);
                if n > 0 {
                    out.push((endpoint, FIRST_STATUS + s as u16, n));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_endpoint_and_status() {
        let stats = RequestStats::default();
        stats.record(Endpoint::Autoscale, 200);
        stats.record(Endpoint::Autoscale, 200);
        stats.record(Endpoint::Autoscale, 503);
        stats.record(Endpoint::Other, 599);
        stats.record(Endpoint::Kv, 99); // out of range: ignored, never a panic
        stats.record(Endpoint::Kv, 600);
        assert_eq!(stats.count(Endpoint::Autoscale, 200), 2);
        assert_eq!(stats.count(Endpoint::Autoscale, 503), 1);
        assert_eq!(stats.count(Endpoint::Completions, 200), 0);
        assert_eq!(stats.endpoint_total(Endpoint::Autoscale), 3);
        assert_eq!(stats.total(), 4);
        assert_eq!(
            stats.snapshot(),
            vec![
                (Endpoint::Autoscale, 200, 2),
                (Endpoint::Autoscale, 503, 1),
                (Endpoint::Other, 599, 1)
            ]
        );
    }
}
