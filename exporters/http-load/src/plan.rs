//! Executors compiled to what the engine runs: per scenario, a list of steps, each one load
//! shape with k6's semantics. `steps`, ramping stages and doubling all become steps, so every
//! sample can carry a `step` label; the segment share is applied here, once.

use std::time::Duration;

use crate::scenario::{Executor, Scenario, Stage, Step};
use crate::segment::Segment;

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioPlan {
    pub name: String,
    pub executor: Executor,
    pub start_time: Duration,
    pub graceful_stop: Duration,
    pub settle: Duration,
    pub cooldown: Duration,
    pub steps: Vec<StepPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// The `step` label: the step's name, or its 1-based position.
    pub label: String,
    /// The level as written (whole scenario, before the segment share): VUs or iterations/s.
    pub level: f64,
    pub unit: Unit,
    pub load: Load,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Vus,
    Rate,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Vus => "vus",
            Unit::Rate => "rate",
        }
    }
}

/// One step's load, already this segment's share.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// `iterations` shared by `vus` VUs; stops after `max_duration`.
    SharedIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    PerVuIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    /// VUs move linearly from `from` to `to` over `duration` (constant when equal). The
    /// targets are the whole scenario's; the engine takes this segment's share at each moment.
    Vus {
        from: f64,
        to: f64,
        duration: Duration,
        segment: Segment,
    },
    /// Iterations started per second move linearly from `from` to `to` over `duration`.
    Arrival {
        from: f64,
        to: f64,
        duration: Duration,
        pre_allocated_vus: u64,
        max_vus: u64,
    },
}

impl Load {
    /// How long the step runs at most (before the graceful stop).
    pub fn duration(&self) -> Duration {
        match self {
            Load::SharedIterations { max_duration, .. }
            | Load::PerVuIterations { max_duration, .. } => *max_duration,
            Load::Vus { duration, .. } | Load::Arrival { duration, .. } => *duration,
        }
    }

    /// Iterations started per second at `t` into the step (arrival only).
    pub fn rate_at(&self, t: Duration) -> f64 {
        match self {
            Load::Arrival {
                from, to, duration, ..
            } => lerp(*from, *to, t, *duration),
            _ => 0.0,
        }
    }
}

pub fn lerp(from: f64, to: f64, t: Duration, over: Duration) -> f64 {
    if over.is_zero() || t >= over {
        return to;
    }
    from + (to - from) * (t.as_secs_f64() / over.as_secs_f64())
}

const TEN_MINUTES: Duration = Duration::from_secs(600);

/// `steps` as (level, its step), or the one level `default` when the scenario has none.
fn levels(s: &Scenario, default: f64) -> Vec<(f64, Option<&Step>)> {
    match &s.steps {
        Some(st) => st.iter().map(|x| (x.level, Some(x))).collect(),
        None => vec![(default, None)],
    }
}

/// The ramping stages as (the level it starts from, the stage): each starts where the one
/// before ended, the first at `start`.
fn ramps(s: &Scenario, start: f64) -> Vec<(f64, &Stage)> {
    let mut from = start;
    s.stages
        .iter()
        .flatten()
        .map(|stage| (std::mem::replace(&mut from, stage.target), stage))
        .collect()
}

/// The `step` label of the `i`-th step: its name, or its 1-based position.
fn label(i: usize, st: Option<&Step>) -> String {
    st.and_then(|s| s.name.clone())
        .unwrap_or_else(|| (i + 1).to_string())
}

pub fn compile(name: &str, s: &Scenario, seg: Segment) -> ScenarioPlan {
    use Executor::*;
    let time_unit = s.time_unit.unwrap_or(Duration::from_secs(1)).as_secs_f64();
    let per_second = |r: f64| seg.share_rate(r) / time_unit;
    // A step's own duration, else the scenario's.
    let duration = |st: Option<&Step>| {
        st.and_then(|x| x.duration)
            .or(s.duration)
            .unwrap_or_default()
    };
    let pre = s.pre_allocated_vus.unwrap_or(1);
    let open_vus = |pre: u64, max: Option<u64>| {
        let p = seg.share(pre).max(1);
        (p, seg.share(max.unwrap_or(pre)).max(p))
    };
    let step = |label: String, level: f64, unit: Unit, load: Load| StepPlan {
        label,
        level,
        unit,
        load,
    };
    let mut steps = Vec::new();
    match s.executor {
        SharedIterations | PerVuIterations => {
            let max_duration = s.max_duration.unwrap_or(TEN_MINUTES);
            let base_iters = s.iterations.unwrap_or(1);
            for (i, (level, st)) in levels(s, s.vus.unwrap_or(1) as f64).into_iter().enumerate() {
                let vus = level.round() as u64;
                let iterations = st.and_then(|x| x.iterations).unwrap_or(base_iters);
                let max_duration = st.and_then(|x| x.duration).unwrap_or(max_duration);
                let load = if s.executor == SharedIterations {
                    Load::SharedIterations {
                        vus: seg.share(vus),
                        iterations: seg.share_iterations(iterations, vus),
                        max_duration,
                    }
                } else {
                    Load::PerVuIterations {
                        vus: seg.share(vus),
                        iterations,
                        max_duration,
                    }
                };
                steps.push(step(label(i, st), level, Unit::Vus, load));
            }
        }
        ConstantVus => {
            for (i, (level, st)) in levels(s, s.vus.unwrap_or(1) as f64).into_iter().enumerate() {
                let load = Load::Vus {
                    from: level.round(),
                    to: level.round(),
                    duration: duration(st),
                    segment: seg,
                };
                steps.push(step(label(i, st), level, Unit::Vus, load));
            }
        }
        RampingVus => {
            for (i, (from, stage)) in ramps(s, s.start_vus.unwrap_or(1) as f64)
                .into_iter()
                .enumerate()
            {
                let load = Load::Vus {
                    from,
                    to: stage.target,
                    duration: stage.duration,
                    segment: seg,
                };
                steps.push(step(label(i, None), stage.target, Unit::Vus, load));
            }
        }
        ConstantArrivalRate => {
            let (p, m) = open_vus(pre, s.max_vus);
            for (i, (level, st)) in levels(s, s.rate.unwrap_or(0.0)).into_iter().enumerate() {
                let r = per_second(level);
                let load = Load::Arrival {
                    from: r,
                    to: r,
                    duration: duration(st),
                    pre_allocated_vus: p,
                    max_vus: m,
                };
                steps.push(step(label(i, st), level, Unit::Rate, load));
            }
        }
        RampingArrivalRate => {
            let (p, m) = open_vus(pre, s.max_vus);
            for (i, (from, stage)) in ramps(s, s.start_rate.unwrap_or(0.0))
                .into_iter()
                .enumerate()
            {
                let load = Load::Arrival {
                    from: per_second(from),
                    to: per_second(stage.target),
                    duration: stage.duration,
                    pre_allocated_vus: p,
                    max_vus: m,
                };
                steps.push(step(label(i, None), stage.target, Unit::Rate, load));
            }
        }
        Doubling => {
            let (p, m) = open_vus(pre, s.max_vus);
            let every = s.every.unwrap_or(Duration::from_secs(30));
            let base = s.rate.unwrap_or(0.0);
            // `times` doublings after the starting level: 1 + times steps.
            for i in 0..=s.times.unwrap_or(10) {
                let level = base * f64::from(2u32.saturating_pow(i));
                let r = per_second(level);
                let load = Load::Arrival {
                    from: r,
                    to: r,
                    duration: every,
                    pre_allocated_vus: p,
                    max_vus: m,
                };
                steps.push(step(label(i as usize, None), level, Unit::Rate, load));
            }
        }
    }
    ScenarioPlan {
        name: name.to_owned(),
        executor: s.executor,
        start_time: s.start_time.unwrap_or_default(),
        graceful_stop: s.graceful_stop.unwrap_or(Duration::from_secs(30)),
        settle: s.settle.unwrap_or_default(),
        cooldown: s.cooldown.unwrap_or_default(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::ScenarioFile;

    fn one(yaml: &str, seg: Segment) -> ScenarioPlan {
        let f = ScenarioFile::parse(yaml, Path::new("t.yaml")).unwrap();
        let (name, s) = f.scenarios.iter().next().unwrap();
        compile(name, s, seg)
    }

    #[test]
    fn doubling_is_times_plus_one_steps_of_every() {
        let p = one(
            "scenarios:\n  k:\n    executor: doubling\n    rate: 10\n    every: 30s\n    times: 3\n    requests: [{url: /}]\n",
            Segment::WHOLE,
        );
        let rates: Vec<f64> = p.steps.iter().map(|s| s.level).collect();
        assert_eq!(rates, [10.0, 20.0, 40.0, 80.0]);
        assert!(
            p.steps
                .iter()
                .all(|s| s.load.duration() == Duration::from_secs(30))
        );
        assert_eq!(p.steps[3].load.rate_at(Duration::ZERO), 80.0);
    }

    #[test]
    fn steps_of_shared_iterations_and_segments() {
        let y = "scenarios:\n  b:\n    executor: shared-iterations\n    iterations: 100\n    steps: [10, {level: 25, iterations: 250}]\n    requests: [{url: /}]\n";
        let p = one(y, Segment::WHOLE);
        assert_eq!(
            p.steps[0].load,
            Load::SharedIterations {
                vus: 10,
                iterations: 100,
                max_duration: TEN_MINUTES
            }
        );
        assert_eq!(
            p.steps[1].load,
            Load::SharedIterations {
                vus: 25,
                iterations: 250,
                max_duration: TEN_MINUTES
            }
        );
        let total: u64 = (0..3)
            .map(
                |i| match one(y, Segment::new(i, 3).unwrap()).steps[1].load {
                    Load::SharedIterations { iterations, .. } => iterations,
                    _ => unreachable!(),
                },
            )
            .sum();
        assert_eq!(total, 250);
    }

    #[test]
    fn arrival_rates_use_time_unit_and_segment() {
        let y = "scenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 120\n    timeUnit: 1m\n    duration: 10s\n    preAllocatedVUs: 5\n    maxVUs: 9\n    requests: [{url: /}]\n";
        let p = one(y, Segment::new(1, 2).unwrap());
        match p.steps[0].load {
            Load::Arrival {
                from,
                pre_allocated_vus,
                max_vus,
                ..
            } => {
                assert!((from - 1.0).abs() < 1e-9);
                assert_eq!((pre_allocated_vus, max_vus), (2, 4));
            }
            ref l => panic!("{l:?}"),
        }
    }

    #[test]
    fn ramping_stages_become_labelled_steps() {
        let y = "scenarios:\n  r:\n    executor: ramping-vus\n    startVUs: 0\n    stages: [{duration: 10s, target: 5}, {duration: 10s, target: 10}]\n    requests: [{url: /}]\n";
        let p = one(y, Segment::WHOLE);
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].label, "2");
        assert_eq!(
            p.steps[1].load,
            Load::Vus {
                from: 5.0,
                to: 10.0,
                duration: Duration::from_secs(10),
                segment: Segment::WHOLE
            }
        );
    }
}
