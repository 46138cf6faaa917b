//! Patterns as pure timelines: (plan, seed) -> scale steps in time order, so a run is
//! reproducible and tests can check it exactly.
//!
//! Every pattern starts with one step per service at offset zero (the creation), then
//! moves through *boundaries*: moments at which every service is asked for the same
//! replica count. A service's step lands at `boundary + batch offset + jitter`, where
//! the batch offset is `batch index × --batch-interval` and the jitter a seeded draw in
//! `0..=--jitter` (milliseconds). Draws happen boundary by boundary, service by service,
//! so the same seed always gives the same timeline. Jitter plus batch spread must stay
//! below the shortest gap between boundaries, which keeps every service's steps in order.

use std::collections::VecDeque;
use std::time::Duration;

use crate::ChurnError;

/// One replica change of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleStep {
    /// Offset from the start of the run.
    pub at: Duration,
    /// Service index, 0-based (`<prefix>-{service + 1}`).
    pub service: u32,
    pub replicas: u32,
    /// Per-service sequence number; 0 is the creation.
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Stable {
        replicas: u32,
    },
    /// Lifecycle of the plan: create at `min`; hold `min_hold` (Scenario 2's "Start: hold
    /// for 2 minutes"); then cycles of: up to `max`, hold `max_hold`, down to `min`, hold
    /// `min_hold`.
    Oscillate {
        min: u32,
        max: u32,
        min_hold: Duration,
        max_hold: Duration,
    },
    /// `from` at creation, then `steps` equal steps reaching `to` at `over`; holds there.
    ScaleUp {
        from: u32,
        to: u32,
        over: Duration,
        steps: u32,
    },
    /// `min` at creation; every `interval` one step of `step` replicas up to `max`, then
    /// down to `min` (a cycle), capped at the bounds.
    Rolling {
        min: u32,
        max: u32,
        step: u32,
        interval: Duration,
    },
    /// `base` at creation; every cycle: hold `interval`, jump to `peak`, hold `hold`, back.
    Spike {
        base: u32,
        peak: u32,
        interval: Duration,
        hold: Duration,
    },
}

/// A validated pattern over a number of services.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub pattern: Pattern,
    pub services: u32,
    pub cycles: Option<u32>,
    pub duration: Option<Duration>,
    pub jitter: Duration,
    pub batch_size: u32,
    pub batch_interval: Duration,
    /// Replica counts of one rolling cycle (empty for other patterns).
    sweep: Vec<u32>,
}

impl Plan {
    pub fn new(
        pattern: Pattern,
        services: u32,
        cycles: Option<u32>,
        duration: Option<Duration>,
        jitter: Duration,
        batch_size: u32,
        batch_interval: Duration,
    ) -> Result<Self, ChurnError> {
        let sweep = match &pattern {
            Pattern::Rolling { min, max, step, .. } => rolling_sweep(*min, *max, *step),
            _ => Vec::new(),
        };
        let plan = Self {
            pattern,
            services,
            cycles,
            duration,
            jitter,
            batch_size,
            batch_interval,
            sweep,
        };
        if let Some(gap) = plan.shortest_gap() {
            if gap.is_zero() {
                return Err(ChurnError::Flag {
                    flag: "--pattern",
                    message: "its holds/intervals must be longer than zero".into(),
                });
            }
            let spread = plan.jitter + plan.batch_spread();
            if spread >= gap {
                return Err(ChurnError::Flag {
                    flag: "--jitter",
                    message: format!(
                        "jitter ({}) plus batch spread ({}) must be shorter than the shortest hold or step of the pattern ({})",
                        humantime::format_duration(plan.jitter),
                        humantime::format_duration(plan.batch_spread()),
                        humantime::format_duration(gap)
                    ),
                });
            }
        }
        Ok(plan)
    }

    fn batches(&self) -> u32 {
        if self.batch_size == 0 {
            1
        } else {
            self.services.div_ceil(self.batch_size)
        }
    }

    fn batch_spread(&self) -> Duration {
        self.batch_interval
            .saturating_mul(self.batches().saturating_sub(1))
    }

    fn batch_offset(&self, service: u32) -> Duration {
        match service.checked_div(self.batch_size) {
            Some(batch) => self.batch_interval.saturating_mul(batch),
            None => Duration::ZERO,
        }
    }

    /// Replicas every service is created with.
    pub fn initial_replicas(&self) -> u32 {
        match &self.pattern {
            Pattern::Stable { replicas } => *replicas,
            Pattern::Oscillate { min, .. } => *min,
            Pattern::ScaleUp { from, .. } => *from,
            Pattern::Rolling { min, .. } => *min,
            Pattern::Spike { base, .. } => *base,
        }
    }

    fn shortest_gap(&self) -> Option<Duration> {
        match &self.pattern {
            Pattern::Stable { .. } => None,
            Pattern::Oscillate {
                min_hold, max_hold, ..
            } => Some((*min_hold).min(*max_hold)),
            Pattern::ScaleUp { over, steps, .. } => Some(*over / (*steps).max(1)),
            Pattern::Rolling { interval, .. } => Some(*interval),
            Pattern::Spike { interval, hold, .. } => Some((*interval).min(*hold)),
        }
    }

    /// When the pattern itself is over (None: it holds until stopped).
    pub fn natural_end(&self) -> Option<Duration> {
        let cycles = self.cycles?;
        match &self.pattern {
            Pattern::Stable { .. } | Pattern::ScaleUp { .. } => None,
            Pattern::Oscillate {
                min_hold, max_hold, ..
            } => Some(*min_hold + (*min_hold + *max_hold).saturating_mul(cycles)),
            Pattern::Rolling { interval, .. } => {
                Some(interval.saturating_mul((self.sweep.len() as u32).saturating_mul(cycles) + 1))
            }
            Pattern::Spike { interval, hold, .. } => {
                Some(*interval + (*interval + *hold).saturating_mul(cycles))
            }
        }
    }

    /// When the run ends: the earlier of `--duration` and the pattern's end.
    pub fn end(&self) -> Option<Duration> {
        match (self.duration, self.natural_end()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The k-th boundary (0-based): (offset, replicas); None when the pattern has no more.
    fn boundary(&self, k: u32) -> Option<(Duration, u32)> {
        let within_cycles = |cycle: u32| self.cycles.is_none_or(|c| cycle < c);
        match &self.pattern {
            Pattern::Stable { .. } => None,
            Pattern::Oscillate {
                min,
                max,
                min_hold,
                max_hold,
            } => within_cycles(k / 2).then(|| up_and_down(k, (*min_hold, *min), (*max_hold, *max))),
            Pattern::ScaleUp {
                from,
                to,
                over,
                steps,
            } => {
                if k >= *steps {
                    return None;
                }
                let n = k + 1;
                let span = i64::from(*to) - i64::from(*from);
                let replicas = i64::from(*from) + span * i64::from(n) / i64::from(*steps);
                Some((
                    over.saturating_mul(n) / *steps,
                    u32::try_from(replicas).unwrap_or(0),
                ))
            }
            Pattern::Rolling { interval, .. } => {
                let len = self.sweep.len() as u32;
                if len == 0 || !within_cycles(k / len) {
                    return None;
                }
                Some((
                    interval.saturating_mul(k + 1),
                    self.sweep[(k % len) as usize],
                ))
            }
            Pattern::Spike {
                base,
                peak,
                interval,
                hold,
            } => within_cycles(k / 2).then(|| up_and_down(k, (*interval, *base), (*hold, *peak))),
        }
    }
}

/// Replica counts of one rolling cycle: up from `min` to `max`, then down to `min`.
fn rolling_sweep(min: u32, max: u32, step: u32) -> Vec<u32> {
    let mut v = Vec::new();
    let step = step.max(1);
    let mut r = min;
    while r < max {
        r = r.saturating_add(step).min(max);
        v.push(r);
    }
    while r > min {
        r = r.saturating_sub(step).max(min);
        v.push(r);
    }
    v
}

/// SplitMix64: tiny, seedable and stable forever, so a seed means the same timeline in
/// every version of redline (unlike generators whose streams may change between releases).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (the modulo bias is below 2^-40 for any jitter in ms).
    fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

/// The steps of a run in time order; finite when the run has an end.
#[derive(Debug, Clone)]
pub struct Timeline {
    plan: Plan,
    rng: SplitMix64,
    next_boundary: u32,
    last_replicas: Option<u32>,
    seqs: Vec<u64>,
    buffer: VecDeque<ScaleStep>,
    end: Option<Duration>,
    done: bool,
}

/// The timeline of `plan` under `seed`.
pub fn timeline(plan: &Plan, seed: u64) -> Timeline {
    let initial = plan.initial_replicas();
    let buffer = (0..plan.services)
        .map(|service| ScaleStep {
            at: Duration::ZERO,
            service,
            replicas: initial,
            seq: 0,
        })
        .collect();
    Timeline {
        plan: plan.clone(),
        rng: SplitMix64(seed),
        next_boundary: 0,
        last_replicas: Some(initial),
        seqs: vec![0; plan.services as usize],
        buffer,
        end: plan.end(),
        done: false,
    }
}

impl Timeline {
    /// Fills the buffer with the steps of the next boundary that changes something.
    fn refill(&mut self) {
        while self.buffer.is_empty() && !self.done {
            let Some((at, replicas)) = self.plan.boundary(self.next_boundary) else {
                self.done = true;
                return;
            };
            self.next_boundary = self.next_boundary.saturating_add(1);
            if self.end.is_some_and(|end| at >= end) {
                self.done = true;
                return;
            }
            if self.last_replicas == Some(replicas) {
                continue;
            }
            self.last_replicas = Some(replicas);
            let jitter_ms = u64::try_from(self.plan.jitter.as_millis()).unwrap_or(u64::MAX);
            let mut steps: Vec<ScaleStep> = (0..self.plan.services)
                .map(|service| {
                    let jitter = Duration::from_millis(self.rng.up_to(jitter_ms));
                    let seq = &mut self.seqs[service as usize];
                    *seq += 1;
                    ScaleStep {
                        at: at + self.plan.batch_offset(service) + jitter,
                        service,
                        replicas,
                        seq: *seq,
                    }
                })
                .collect();
            steps.retain(|s| self.end.is_none_or(|end| s.at < end));
            steps.sort_by_key(|s| (s.at, s.service));
            self.buffer.extend(steps);
        }
    }
}

impl Iterator for Timeline {
    type Item = ScaleStep;

    fn next(&mut self) -> Option<ScaleStep> {
        self.refill();
        self.buffer.pop_front()
    }
}

/// Boundary `k` of a two-phase cycle (oscillate, spike): hold `low` replicas for
/// `low.0`, go to `high` replicas, hold them for `high.0`, come back; repeat. Even
/// boundaries go up, odd ones come down.
fn up_and_down(k: u32, low: (Duration, u32), high: (Duration, u32)) -> (Duration, u32) {
    let cycle = k / 2;
    let up_at = low.0 + (low.0 + high.0).saturating_mul(cycle);
    if k % 2 == 1 {
        (up_at + high.0, low.1)
    } else {
        (up_at, high.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plans::{oscillate, plan, s, scenario_two};

    fn triples(t: Timeline) -> Vec<(u64, u32, u32)> {
        t.map(|s| (s.at.as_secs(), s.service, s.replicas)).collect()
    }

    #[test]
    fn stable_creates_once_and_holds() {
        let p = plan(Pattern::Stable { replicas: 100 }, 3, None);
        assert_eq!(
            triples(timeline(&p, 1)),
            [(0, 0, 100), (0, 1, 100), (0, 2, 100)]
        );
        assert_eq!(p.end(), None);
    }

    #[test]
    fn oscillate_follows_the_plan_lifecycle() {
        let p = plan(oscillate(10, 200, 120, 300), 2, Some(2));
        assert_eq!(
            triples(timeline(&p, 7)),
            [
                (0, 0, 10),
                (0, 1, 10),
                (120, 0, 200),
                (120, 1, 200),
                (420, 0, 10),
                (420, 1, 10),
                (540, 0, 200),
                (540, 1, 200),
                (840, 0, 10),
                (840, 1, 10),
            ]
        );
        // Three holds at min and two at max: ends after the last min hold.
        assert_eq!(p.end(), Some(s(960)));
        let seqs: Vec<u64> = timeline(&p, 7)
            .filter(|s| s.service == 1)
            .map(|s| s.seq)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn jitter_is_seeded_bounded_and_reproducible() {
        let p = scenario_two();
        let a: Vec<ScaleStep> = timeline(&p, 42).collect();
        let b: Vec<ScaleStep> = timeline(&p, 42).collect();
        let c: Vec<ScaleStep> = timeline(&p, 43).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10 + 10 * 6);
        // Every scale lands within 0..=5 s after its boundary, in time order.
        let boundaries = [120u64, 420, 540, 840, 960, 1260];
        for (i, st) in a.iter().skip(10).enumerate() {
            let b = s(boundaries[i / 10]);
            assert!(st.at >= b && st.at <= b + s(5), "{st:?}");
        }
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        let distinct: std::collections::HashSet<_> = a.iter().skip(10).map(|s| s.at).collect();
        assert!(distinct.len() > 30, "jitter spreads the services");
    }

    #[test]
    fn scale_up_is_gradual_and_ends_at_the_target() {
        let p = plan(
            Pattern::ScaleUp {
                from: 10,
                to: 200,
                over: s(30),
                steps: 5,
            },
            1,
            None,
        );
        assert_eq!(
            triples(timeline(&p, 1)),
            [
                (0, 0, 10),
                (6, 0, 48),
                (12, 0, 86),
                (18, 0, 124),
                (24, 0, 162),
                (30, 0, 200)
            ]
        );
        // More steps than replicas to add: repeated counts are not re-applied.
        let p = plan(
            Pattern::ScaleUp {
                from: 1,
                to: 3,
                over: s(4),
                steps: 4,
            },
            1,
            None,
        );
        assert_eq!(triples(timeline(&p, 1)), [(0, 0, 1), (2, 0, 2), (4, 0, 3)]);
    }

    #[test]
    fn rolling_steps_up_and_down_per_cycle() {
        let p = plan(
            Pattern::Rolling {
                min: 10,
                max: 35,
                step: 10,
                interval: s(10),
            },
            1,
            Some(2),
        );
        let got: Vec<(u64, u32)> = timeline(&p, 1)
            .map(|s| (s.at.as_secs(), s.replicas))
            .collect();
        assert_eq!(
            got,
            [
                (0, 10),
                (10, 20),
                (20, 30),
                (30, 35),
                (40, 25),
                (50, 15),
                (60, 10),
                (70, 20),
                (80, 30),
                (90, 35),
                (100, 25),
                (110, 15),
                (120, 10)
            ]
        );
        assert_eq!(p.end(), Some(s(130)));
    }

    #[test]
    fn spike_jumps_and_returns() {
        let p = plan(
            Pattern::Spike {
                base: 50,
                peak: 500,
                interval: s(60),
                hold: s(10),
            },
            1,
            Some(2),
        );
        assert_eq!(
            triples(timeline(&p, 1)),
            [
                (0, 0, 50),
                (60, 0, 500),
                (70, 0, 50),
                (130, 0, 500),
                (140, 0, 50)
            ]
        );
        assert_eq!(p.end(), Some(s(200)));
    }

    #[test]
    fn batches_scale_apart() {
        let p = Plan::new(
            Pattern::Spike {
                base: 1,
                peak: 5,
                interval: s(60),
                hold: s(30),
            },
            5,
            Some(1),
            None,
            Duration::ZERO,
            2,
            s(3),
        )
        .unwrap();
        let up: Vec<(u64, u32)> = timeline(&p, 1)
            .filter(|s| s.replicas == 5)
            .map(|s| (s.at.as_secs(), s.service))
            .collect();
        assert_eq!(up, [(60, 0), (60, 1), (63, 2), (63, 3), (66, 4)]);
    }

    #[test]
    fn duration_cuts_an_endless_pattern() {
        let p = Plan::new(
            oscillate(1, 2, 10, 10),
            1,
            None,
            Some(s(45)),
            Duration::ZERO,
            0,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(
            triples(timeline(&p, 1)),
            [(0, 0, 1), (10, 0, 2), (20, 0, 1), (30, 0, 2), (40, 0, 1)]
        );
        // Without an end the timeline keeps going.
        let endless = plan(oscillate(1, 2, 10, 10), 1, None);
        assert_eq!(timeline(&endless, 1).take(1000).count(), 1000);
    }
}
