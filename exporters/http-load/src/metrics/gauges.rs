//! Live per-scenario state: the engine stores into atomics, collection and the progress
//! line read them. Nothing here is per request.

use std::sync::Mutex;
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
    /// Per step that started: (step, start, end) in Unix seconds, set by the engine as it
    /// happens (written as `redline_step_{started,ended}_timestamp_seconds`), so a step's
    /// span never depends on when samples were pushed. Touched twice per step.
    pub spans: Mutex<Vec<StepSpan>>,
}

/// When one step ran, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSpan {
    pub step: u16,
    pub start: f64,
    pub end: Option<f64>,
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
    pub fn step_started(&self, step: u16, start: f64) {
        self.spans.lock().expect("step spans").push(StepSpan {
            step,
            start,
            end: None,
        });
    }
    pub fn step_ended(&self, step: u16, end: f64) {
        let mut spans = self.spans.lock().expect("step spans");
        if let Some(s) = spans.iter_mut().rev().find(|s| s.step == step) {
            s.end = Some(end);
        }
    }
    pub fn spans(&self) -> Vec<StepSpan> {
        self.spans.lock().expect("step spans").clone()
    }
}
