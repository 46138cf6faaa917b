//! What the clocks make of the readings: when the HPA first scaled the target up, and when
//! each replica count above the starting one was first Ready. Pure bookkeeping over
//! readings taken since the load's start, so it is tested without a cluster.

use std::collections::BTreeMap;
use std::time::Duration;

/// The phases the seed names, as `phase` label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The HPA raised the target's replicas ("HPA detects … within 30-60 s").
    ScaleUp,
    /// The first replica above the starting count is Ready ("HPA responds within 1-2 min").
    Ready,
}

impl Phase {
    pub const ALL: [Phase; 2] = [Phase::ScaleUp, Phase::Ready];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::ScaleUp => "scale_up",
            Phase::Ready => "ready",
        }
    }
}

/// One reading, `at` after the load's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub at: Duration,
    /// The larger of the HPA's desired replicas and the target's spec.replicas: the HPA
    /// writes the target's scale first and its own status after, so either may show the
    /// decision first.
    pub desired: i32,
    /// Ready pods of the target.
    pub ready: i32,
}

/// Something that happened for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    ScaledUp { at: Duration, to: i32 },
    ReplicasReady { at: Duration, replicas: i32 },
}

#[derive(Debug, Clone)]
pub struct Timeline {
    /// The target's replicas at the load's start.
    pub initial: i32,
    scale_up: Option<Duration>,
    ready: BTreeMap<i32, Duration>,
    pub peak_desired: i32,
    pub peak_ready: i32,
}

impl Timeline {
    pub fn new(initial: i32) -> Self {
        Self {
            initial,
            scale_up: None,
            ready: BTreeMap::new(),
            peak_desired: initial,
            peak_ready: 0,
        }
    }

    /// Takes one reading; returns what it showed for the first time. Readings must come in
    /// time order.
    pub fn observe(&mut self, r: Reading) -> Vec<Event> {
        let mut events = Vec::new();
        if self.scale_up.is_none() && r.desired > self.initial {
            self.scale_up = Some(r.at);
            events.push(Event::ScaledUp {
                at: r.at,
                to: r.desired,
            });
        }
        // A count jumped over between two readings (1 -> 3) was reached by then too.
        for replicas in (self.initial + 1)..=r.ready {
            if let std::collections::btree_map::Entry::Vacant(e) = self.ready.entry(replicas) {
                e.insert(r.at);
                events.push(Event::ReplicasReady { at: r.at, replicas });
            }
        }
        self.peak_desired = self.peak_desired.max(r.desired);
        self.peak_ready = self.peak_ready.max(r.ready);
        events
    }

    /// When the phase happened, if it has.
    pub fn reached(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::ScaleUp => self.scale_up,
            Phase::Ready => self.ready.get(&(self.initial + 1)).copied(),
        }
    }

    /// The phase's clock `now` after the load's start: when it happened, else the time
    /// waited so far.
    pub fn clock(&self, phase: Phase, now: Duration) -> Duration {
        self.reached(phase).unwrap_or(now)
    }

    /// Load start -> first time each count above the initial one was Ready.
    pub fn ready_times(&self) -> &BTreeMap<i32, Duration> {
        &self.ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(secs: u64, desired: i32, ready: i32) -> Reading {
        Reading {
            at: Duration::from_secs(secs),
            desired,
            ready,
        }
    }

    #[test]
    fn one_two_four_as_the_seed_expects() {
        let mut t = Timeline::new(1);
        assert!(t.observe(r(0, 1, 1)).is_empty());
        assert_eq!(
            t.clock(Phase::ScaleUp, Duration::from_secs(20)),
            Duration::from_secs(20)
        );
        assert_eq!(
            t.observe(r(31, 2, 1)),
            vec![Event::ScaledUp {
                at: Duration::from_secs(31),
                to: 2
            }]
        );
        assert_eq!(t.reached(Phase::Ready), None);
        assert_eq!(
            t.observe(r(33, 2, 2)),
            vec![Event::ReplicasReady {
                at: Duration::from_secs(33),
                replicas: 2
            }]
        );
        // A later scale-up is not the first one; a count skipped between readings is
        // reached at the reading that shows it.
        let e = t.observe(r(70, 4, 4));
        assert_eq!(
            e,
            vec![
                Event::ReplicasReady {
                    at: Duration::from_secs(70),
                    replicas: 3
                },
                Event::ReplicasReady {
                    at: Duration::from_secs(70),
                    replicas: 4
                },
            ]
        );
        assert_eq!(t.reached(Phase::ScaleUp), Some(Duration::from_secs(31)));
        assert_eq!(
            t.clock(Phase::Ready, Duration::from_secs(500)),
            Duration::from_secs(33)
        );
        // Scaling back down and up again changes nothing already reached.
        assert!(t.observe(r(400, 2, 2)).is_empty());
        assert!(t.observe(r(500, 3, 3)).is_empty());
        assert_eq!((t.peak_desired, t.peak_ready), (4, 4));
        assert_eq!(
            t.ready_times().keys().copied().collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn a_target_that_starts_above_one_counts_from_there() {
        let mut t = Timeline::new(3);
        // A pod of the three not Ready yet is no new replica.
        assert!(t.observe(r(5, 3, 2)).is_empty());
        assert!(t.observe(r(6, 3, 3)).is_empty());
        assert_eq!(t.reached(Phase::ScaleUp), None);
        t.observe(r(40, 5, 4));
        assert_eq!(t.reached(Phase::ScaleUp), Some(Duration::from_secs(40)));
        assert_eq!(t.reached(Phase::Ready), Some(Duration::from_secs(40)));
    }
}
