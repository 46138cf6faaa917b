//! Live per-scenario state: the engine stores into atomics, collection and the progress
//! line read them. Nothing here is per request.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Live per-scenario state the engine sets and gauges read.
#[derive(Debug, Default)]
pub struct ScenarioGauges {
    /// Index of the running step, `usize::MAX` when none runs.
    pub step: AtomicUsize,
    pub vus: AtomicU64,
    pub vus_max: AtomicU64,
    /// f64 bits: iterations/s an arrival-rate executor is asked for right now.
    pub target_rate: AtomicU64,
}

impl ScenarioGauges {
    pub fn new() -> Self {
        let g = Self::default();
        g.step.store(usize::MAX, Ordering::Relaxed);
        g
    }
    pub fn set_rate(&self, r: f64) {
        self.target_rate.store(r.to_bits(), Ordering::Relaxed);
    }
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.target_rate.load(Ordering::Relaxed))
    }
}
