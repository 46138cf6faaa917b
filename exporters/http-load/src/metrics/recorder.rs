//! What the engine records into and the runtime collects from. The hot path records into a
//! per-thread shard (an uncontended mutex only the collector ever also takes); collection
//! merges the shards into a snapshot.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::scenario::StatusRange;

use super::gauges::ScenarioGauges;
use super::labels::Labels;
use super::shard::Shard;
use super::timed::Timed;
use super::trend::TrendStat;

static NEXT_RECORDER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static LOCAL: RefCell<Vec<(u64, Arc<Mutex<Shard>>)>> = const { RefCell::new(Vec::new()) };
}

/// What the engine records into and the runtime collects from.
#[derive(Debug)]
pub struct Metrics {
    id: u64,
    pub labels: Labels,
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
    pub gauges: Vec<ScenarioGauges>,
    /// Which trend-stat gauges to write (`--trend-stats`).
    pub trend_stats: Vec<TrendStat>,
    expected: Vec<StatusRange>,
    pub started: AtomicBool,
}

impl Metrics {
    pub fn new(
        labels: Labels,
        expected: Option<Vec<StatusRange>>,
        trend_stats: Vec<TrendStat>,
    ) -> Self {
        let gauges = labels
            .scenarios
            .iter()
            .map(|_| ScenarioGauges::new())
            .collect();
        Self {
            id: NEXT_RECORDER.fetch_add(1, Ordering::Relaxed),
            labels,
            shards: Mutex::new(Vec::new()),
            gauges,
            trend_stats,
            expected: expected.unwrap_or_else(|| vec![StatusRange::Range([200, 399])]),
            started: AtomicBool::new(false),
        }
    }

    /// k6's `expected_response`: a response in the expected statuses (200..=399 by default).
    pub fn expected(&self, status: u16) -> bool {
        status != 0 && self.expected.iter().any(|r| r.contains(status))
    }

    /// Runs `f` on this thread's shard. Never held across an await, and `f` must not record
    /// again (the thread's shard list stays borrowed while it runs: cloning the shard's `Arc`
    /// out of it cost two atomic operations per call).
    pub fn with<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            let i = match local.iter().position(|(id, _)| *id == self.id) {
                Some(i) => i,
                None => {
                    // Shards of finished runs are only held here now: let them go.
                    local.retain(|(_, s)| Arc::strong_count(s) > 1);
                    let s = Arc::new(Mutex::new(Shard::default()));
                    self.shards.lock().expect("shard list").push(Arc::clone(&s));
                    local.push((self.id, s));
                    local.len() - 1
                }
            };
            let mut g = local[i].1.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut g)
        })
    }

    /// Every request duration of one step of one scenario, merged: the histogram both the
    /// summary's per-step table and `redline_step_http_req_duration_seconds` read.
    pub fn step_duration(&self, snap: &Shard, scenario: u16, step: u16) -> Timed {
        let mut out = Timed::new(3);
        for (k, (_, t)) in &snap.reqs {
            if k.step == step && self.labels.requests[k.req as usize].scenario == scenario {
                out.add(t);
            }
        }
        out
    }

    /// All shards merged.
    pub fn snapshot(&self) -> Shard {
        let shards: Vec<_> = self.shards.lock().expect("shard list").clone();
        let mut out = Shard::default();
        for s in shards {
            let g = s.lock().unwrap_or_else(|e| e.into_inner());
            out.merge(&g);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::keys::ReqKey;

    #[test]
    fn shards_per_thread_merge() {
        let m = Arc::new(Metrics::new(Labels::one_request(), None, vec![]));
        let key = ReqKey {
            req: 0,
            step: 0,
            tier: 0,
            status: 200,
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.with(|s| s.request(key, 10));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let snap = m.snapshot();
        assert_eq!(snap.reqs[&key].0, 4000);
        assert_eq!(m.shards.lock().unwrap().len(), 4);
    }
}
