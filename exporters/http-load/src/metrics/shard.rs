//! Recording: everything measured, by key. A shard holds one thread's share (the hot path
//! writes only its own, see [`super::recorder`]); merging shards gives a snapshot.
//!
//! The maps hash with FxHash, not std's SipHash: keys are a few small integers chosen by the
//! run itself (no attacker picks them, so no flooding to resist), and a request looks up four
//! maps; SipHash cost ~900 instructions per request under callgrind, FxHash a fraction.

use rustc_hash::FxHashMap as HashMap;

use super::cells::{LlmCell, Phases, StepCell};
use super::keys::{ErrorReason, ReqKey, StepKey};
use super::timed::Timed;

/// Everything recorded, by key. A shard holds one thread's share; a snapshot the sum.
#[derive(Debug, Default, Clone)]
pub struct Shard {
    pub reqs: HashMap<ReqKey, (u64, Timed)>,
    /// Blocked, connecting, TLS, sending, waiting, receiving, with the same labels as the
    /// duration (as k6 tags them).
    pub phases: HashMap<ReqKey, Phases>,
    pub errors: HashMap<(u16, u16, ErrorReason), u64>,
    pub steps: HashMap<StepKey, StepCell>,
    /// (check, step) → (passes, fails).
    pub checks: HashMap<(u16, u16), (u64, u64)>,
    /// (scenario, step, tier).
    pub llm: HashMap<(u16, u16, u16), LlmCell>,
}

impl Shard {
    pub fn request(&mut self, key: ReqKey, duration_us: u64) {
        let e = self.reqs.entry(key).or_insert_with(|| (0, Timed::new(3)));
        e.0 += 1;
        e.1.record(duration_us);
    }
    pub fn phases(&mut self, key: ReqKey) -> &mut Phases {
        self.phases.entry(key).or_insert_with(Phases::new)
    }
    pub fn error(&mut self, req: u16, step: u16, reason: ErrorReason) {
        *self.errors.entry((req, step, reason)).or_default() += 1;
    }
    pub fn step(&mut self, key: StepKey) -> &mut StepCell {
        self.steps.entry(key).or_insert_with(StepCell::new)
    }
    pub fn check(&mut self, check: u16, step: u16, pass: bool) {
        let e = self.checks.entry((check, step)).or_default();
        if pass {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    pub fn llm(&mut self, scenario: u16, step: u16, tier: u16) -> &mut LlmCell {
        self.llm
            .entry((scenario, step, tier))
            .or_insert_with(LlmCell::new)
    }

    pub(super) fn merge(&mut self, o: &Shard) {
        for (k, (n, t)) in &o.reqs {
            let e = self.reqs.entry(*k).or_insert_with(|| (0, Timed::new(3)));
            e.0 += n;
            e.1.add(t);
        }
        for (k, p) in &o.phases {
            self.phases.entry(*k).or_insert_with(Phases::new).add(p);
        }
        for (k, n) in &o.errors {
            *self.errors.entry(*k).or_default() += n;
        }
        for (k, c) in &o.steps {
            self.steps.entry(*k).or_insert_with(StepCell::new).add(c);
        }
        for (k, (p, f)) in &o.checks {
            let e = self.checks.entry(*k).or_default();
            e.0 += p;
            e.1 += f;
        }
        for (k, c) in &o.llm {
            self.llm.entry(*k).or_insert_with(LlmCell::new).add(c);
        }
    }
}
