//! The scenario file's types as serde reads them, above a request's ([`super::request_spec`]):
//! k6's executor names and options (camelCase, as in a k6 `options` block), plus redline's
//! `steps`, request mix, think time, variables and tokens, with the YAML shorthands each type
//! accepts (`think: 2s`, `steps: [5, {level: 10}]`, `vars: {n: {int: [1, 3]}}`).
//!
//! An `Option` field may be left out (serde reads a missing one as `None`); every other
//! optional field says its default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::duration::{self, parse_duration};
use super::request_spec::{RequestSpec, StatusRange, tags};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioFile {
    /// Prefix for request URLs that start with `/`.
    pub base_url: Option<String>,
    /// Headers sent with every request (request headers win).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Bearer tokens; VU `i` uses user `i mod n`.
    pub tokens: Option<Tokens>,
    /// Per-request timeout (k6: `timeout`, 60 s).
    #[serde(default = "sixty_seconds", with = "duration")]
    pub timeout: Duration,
    /// Status codes that count as expected (k6's `expected_response`): default 200..=399.
    pub expected_statuses: Option<Vec<StatusRange>>,
    /// Use HTTP/2 (prior knowledge on http://, ALPN on https://).
    #[serde(default)]
    pub http2: bool,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    pub scenarios: BTreeMap<String, Scenario>,
}

fn sixty_seconds() -> Duration {
    Duration::from_secs(60)
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Executor {
    SharedIterations,
    PerVuIterations,
    ConstantVus,
    RampingVus,
    ConstantArrivalRate,
    RampingArrivalRate,
    /// Knative's activator test: start at `rate`, double every `every`, `times` times.
    Doubling,
}

impl Executor {
    pub fn as_str(self) -> &'static str {
        match self {
            Executor::SharedIterations => "shared-iterations",
            Executor::PerVuIterations => "per-vu-iterations",
            Executor::ConstantVus => "constant-vus",
            Executor::RampingVus => "ramping-vus",
            Executor::ConstantArrivalRate => "constant-arrival-rate",
            Executor::RampingArrivalRate => "ramping-arrival-rate",
            Executor::Doubling => "doubling",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Executor::ConstantArrivalRate | Executor::RampingArrivalRate | Executor::Doubling
        )
    }
}

/// One scenario; which options apply depends on `executor` (checked by [`ScenarioFile::validate`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    pub executor: Executor,
    pub vus: Option<u64>,
    pub iterations: Option<u64>,
    #[serde(default, with = "duration")]
    pub duration: Option<Duration>,
    #[serde(default, with = "duration")]
    pub max_duration: Option<Duration>,
    pub rate: Option<f64>,
    #[serde(default, with = "duration")]
    pub time_unit: Option<Duration>,
    #[serde(rename = "preAllocatedVUs")]
    pub pre_allocated_vus: Option<u64>,
    #[serde(rename = "maxVUs")]
    pub max_vus: Option<u64>,
    #[serde(rename = "startVUs")]
    pub start_vus: Option<u64>,
    pub start_rate: Option<f64>,
    pub stages: Option<Vec<Stage>>,
    /// Doubling: how often the rate doubles (30 s) and how many times (10).
    #[serde(default, with = "duration")]
    pub every: Option<Duration>,
    pub times: Option<u32>,
    #[serde(default, with = "duration")]
    pub start_time: Option<Duration>,
    #[serde(default, with = "duration")]
    pub graceful_stop: Option<Duration>,
    /// Levels run one after another: VUs for VU executors, rates for arrival-rate ones.
    pub steps: Option<Vec<Step>>,
    /// Each step first runs this long unrecorded (let autoscalers settle).
    #[serde(default, with = "duration")]
    pub settle: Option<Duration>,
    /// Pause without load after each step.
    #[serde(default, with = "duration")]
    pub cooldown: Option<Duration>,
    /// Pause after each iteration: `2s` or `{min: 1s, max: 3s}`.
    pub think: Option<Think>,
    /// `weighted` (one request per iteration, picked by weight) or `sequence` (all, in order).
    /// Default: weighted when any request has a weight, else sequence.
    pub mix: Option<Mix>,
    /// Random variables drawn per iteration, usable as `{{name}}` in templates.
    #[serde(default)]
    pub vars: BTreeMap<String, Var>,
    /// k6's scenario `tags`: extra labels on every series of this scenario.
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
    pub requests: Vec<RequestSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mix {
    Weighted,
    Sequence,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Stage {
    #[serde(with = "duration")]
    pub duration: Duration,
    pub target: f64,
}

/// A step: a bare level, or a level with its own name/duration/iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub level: f64,
    pub name: Option<String>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Full {
            level: f64,
            name: Option<String>,
            #[serde(default, with = "duration")]
            duration: Option<Duration>,
            iterations: Option<u64>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Level(f64),
            Full(Full),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Level(level) => Step {
                level,
                name: None,
                duration: None,
                iterations: None,
            },
            Raw::Full(f) => Step {
                level: f.level,
                name: f.name,
                duration: f.duration,
                iterations: f.iterations,
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Think {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            #[serde(with = "duration")]
            min: Duration,
            #[serde(with = "duration")]
            max: Duration,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Fixed(String),
            Range(Range),
        }
        match Raw::deserialize(d)? {
            Raw::Fixed(s) => parse_duration(&s)
                .map(Think::Fixed)
                .map_err(serde::de::Error::custom),
            Raw::Range(r) if r.min <= r.max => Ok(Think::Uniform {
                min: r.min,
                max: r.max,
            }),
            Raw::Range(_) => Err(serde::de::Error::custom("think: min must not exceed max")),
        }
    }
}

/// A random variable, drawn afresh for every iteration.
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    /// Uniform integer in `[min, max]`.
    Int([i64; 2]),
    /// One of the values, uniformly.
    Choice(Vec<serde_json::Value>),
}

// A YAML map with one key (`{int: [1, 15]}`) rather than a YAML tag, which is how
// serde_norway would read an externally tagged enum.
impl<'de> Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            int: Option<[i64; 2]>,
            choice: Option<Vec<serde_json::Value>>,
        }
        match Raw::deserialize(d)? {
            Raw {
                int: Some(r),
                choice: None,
            } => Ok(Var::Int(r)),
            Raw {
                int: None,
                choice: Some(c),
            } => Ok(Var::Choice(c)),
            _ => Err(serde::de::Error::custom(
                "a variable is exactly one of `int: [min, max]` or `choice: [...]`",
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tokens {
    /// One token per line, or `tier,token`.
    pub file: Option<PathBuf>,
    /// Every file in it is read like `file`.
    pub dir: Option<PathBuf>,
    /// Demo tokens `<tier>-<random>` per tier (the demo target maps tiers by prefix).
    #[serde(default)]
    pub generate: BTreeMap<String, u32>,
}

#[cfg(test)]
mod tests {
    use super::super::load::parse_as_s_yaml as parse;
    use super::*;

    #[test]
    fn k6_options_parse() {
        let f = parse(
            "scenarios:\n  soak:\n    executor: constant-arrival-rate\n    rate: 50\n    timeUnit: 1s\n    duration: 1m30s\n    preAllocatedVUs: 10\n    maxVUs: 100\n    startTime: 5s\n    gracefulStop: 2s\n    requests:\n      - url: http://x/\n",
        )
        .unwrap();
        let s = &f.scenarios["soak"];
        assert_eq!(s.executor, Executor::ConstantArrivalRate);
        assert_eq!(s.duration, Some(Duration::from_secs(90)));
        assert_eq!(s.max_vus, Some(100));
        assert_eq!(s.pre_allocated_vus, Some(10));
        assert_eq!(s.start_time, Some(Duration::from_secs(5)));
    }

    #[test]
    fn steps_think_vars_and_bodies() {
        let f = parse(
            r#"
scenarios:
  mix:
    executor: constant-vus
    duration: 10s
    steps: [5, {level: 10, name: ten, duration: 5s}]
    think: {min: 1s, max: 3s}
    vars:
      svc: {int: [1, 15]}
      size: {choice: [10K, 100K]}
    requests:
      - {url: /a, weight: 3, body: {json: {x: 1}}}
      - {url: /b, weight: 1, body: {files: [a, b]}, checks: [{status: [200, [300, 399]]}]}
"#,
        )
        .unwrap();
        let s = &f.scenarios["mix"];
        let steps = s.steps.as_ref().unwrap();
        assert_eq!(steps[0].level, 5.0);
        assert_eq!(steps[1].name.as_deref(), Some("ten"));
        assert_eq!(
            s.think,
            Some(Think::Uniform {
                min: Duration::from_secs(1),
                max: Duration::from_secs(3)
            })
        );
        assert_eq!(s.vars["svc"], Var::Int([1, 15]));
        assert!(StatusRange::Range([300, 399]).contains(302));
    }
}
