//! The scenario file: k6's executor names and options (camelCase, as in a k6 `options`
//! block), plus redline's `steps`, request mix, tokens, checks and the `openai` request kind.
//!
//! Parsing is strict (`deny_unknown_fields`), and every error names the file, the field path
//! and the line, so a typo in a 200-line scenario is found at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioFile {
    /// Prefix for request URLs that start with `/`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Headers sent with every request (request headers win).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Bearer tokens; VU `i` uses user `i mod n`.
    #[serde(default)]
    pub tokens: Option<Tokens>,
    /// Per-request timeout (k6: `timeout`, 60 s).
    #[serde(default = "sixty_seconds", with = "duration")]
    pub timeout: Duration,
    /// Status codes that count as expected (k6's `expected_response`): default 200..=399.
    #[serde(default)]
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

/// `200` or `[200, 299]`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StatusRange {
    One(u16),
    Range([u16; 2]),
}

impl StatusRange {
    pub fn contains(self, s: u16) -> bool {
        match self {
            StatusRange::One(x) => x == s,
            StatusRange::Range([a, b]) => (a..=b).contains(&s),
        }
    }
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
    #[serde(default)]
    pub vus: Option<u64>,
    #[serde(default)]
    pub iterations: Option<u64>,
    #[serde(default, with = "opt_duration")]
    pub duration: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub max_duration: Option<Duration>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default, with = "opt_duration")]
    pub time_unit: Option<Duration>,
    #[serde(default, rename = "preAllocatedVUs")]
    pub pre_allocated_vus: Option<u64>,
    #[serde(default, rename = "maxVUs")]
    pub max_vus: Option<u64>,
    #[serde(default, rename = "startVUs")]
    pub start_vus: Option<u64>,
    #[serde(default)]
    pub start_rate: Option<f64>,
    #[serde(default)]
    pub stages: Option<Vec<Stage>>,
    /// Doubling: how often the rate doubles (30 s) and how many times (10).
    #[serde(default, with = "opt_duration")]
    pub every: Option<Duration>,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default, with = "opt_duration")]
    pub start_time: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub graceful_stop: Option<Duration>,
    /// Levels run one after another: VUs for VU executors, rates for arrival-rate ones.
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    /// Each step first runs this long unrecorded (let autoscalers settle).
    #[serde(default, with = "opt_duration")]
    pub settle: Option<Duration>,
    /// Pause without load after each step.
    #[serde(default, with = "opt_duration")]
    pub cooldown: Option<Duration>,
    /// Pause after each iteration: `2s` or `{min: 1s, max: 3s}`.
    #[serde(default)]
    pub think: Option<Think>,
    /// `weighted` (one request per iteration, picked by weight) or `sequence` (all, in order).
    /// Default: weighted when any request has a weight, else sequence.
    #[serde(default)]
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
            #[serde(default)]
            name: Option<String>,
            #[serde(default, with = "opt_duration")]
            duration: Option<Duration>,
            #[serde(default)]
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestSpec {
    /// The `name` label; defaults to the URL template (never the expanded URL).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// URL template; `/path` is joined to `baseUrl`.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub openai: Option<OpenAiSpec>,
    #[serde(default)]
    pub weight: Option<u32>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// k6's request `tags`: extra labels on this request's series (over the scenario's).
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// Tag values are YAML scalars (`version: 2` is the label value "2").
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::Text(s) => s,
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// At most this many tags on a scenario, and on a request.
pub const MAX_TAGS: usize = 10;
/// Longest tag value.
pub const MAX_TAG_VALUE: usize = 128;
/// Label keys redline writes besides those of the catalogue's http-load families: tags must
/// not shadow them. `url` and `proto` are k6's, left out on purpose (README).
const RESERVED_LABELS: &[&str] = &["testid", "le", "quantile", "url", "proto"];

/// Checks a `tags` map: Prometheus label names that are not redline's own labels, literal
/// values (no `{{...}}`: neither a token nor a per-iteration value can become a label), and
/// bounded size. `at` is the map's field path; errors are `(field path, message)`, the path
/// ending in the offending key.
pub fn validate_tags(tags: &BTreeMap<String, String>, at: &str) -> Result<(), (String, String)> {
    if tags.len() > MAX_TAGS {
        return Err((
            at.to_owned(),
            format!("{} tags; at most {MAX_TAGS}", tags.len()),
        ));
    }
    for (k, v) in tags {
        let field = format!("{at}.{k}");
        if !redline_remote_write::valid_label_name(k) {
            return Err((
                field,
                format!("tag key {k:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            ));
        }
        if k.starts_with("__") {
            return Err((
                field,
                format!("tag key {k:?}: names starting with __ are Prometheus' own"),
            ));
        }
        let builtin = redline_catalogue::http_load::ALL
            .iter()
            .flat_map(|m| m.labels.iter().copied())
            .chain(RESERVED_LABELS.iter().copied())
            .any(|b| b == k);
        if builtin {
            return Err((
                field,
                format!("tag key {k:?} is one of redline's own labels; pick another name"),
            ));
        }
        if v.contains("{{") {
            return Err((
                field,
                "tag values are literals: a {{...}} template would put a token or a value per iteration into a label".into(),
            ));
        }
        if v.is_empty() {
            return Err((
                field,
                "a tag value must not be empty (Prometheus drops empty labels)".into(),
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE || v.chars().any(char::is_control) {
            return Err((
                field,
                format!("a tag value is at most {MAX_TAG_VALUE} printable characters"),
            ));
        }
    }
    Ok(())
}

/// Request body: inline text (a template), JSON, a file, or a random pick among files.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Json(serde_json::Value),
    File(PathBuf),
    Files(Vec<PathBuf>),
}

// YAML maps with one key (`{int: [1, 15]}`, `{json: {...}}`) rather than YAML tags, which is
// how serde_norway would read an externally tagged enum.
impl<'de> Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            int: Option<[i64; 2]>,
            #[serde(default)]
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

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            text: Option<String>,
            #[serde(default)]
            json: Option<serde_json::Value>,
            #[serde(default)]
            file: Option<PathBuf>,
            #[serde(default)]
            files: Option<Vec<PathBuf>>,
        }
        let r = Raw::deserialize(d)?;
        let n = usize::from(r.text.is_some())
            + usize::from(r.json.is_some())
            + usize::from(r.file.is_some())
            + usize::from(r.files.is_some());
        if n != 1 {
            return Err(serde::de::Error::custom(
                "a body is exactly one of text, json, file or files",
            ));
        }
        Ok(if let Some(t) = r.text {
            Body::Text(t)
        } else if let Some(j) = r.json {
            Body::Json(j)
        } else if let Some(f) = r.file {
            Body::File(f)
        } else {
            Body::Files(r.files.unwrap_or_default())
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OpenAiApi {
    Chat,
    Completions,
}

/// An OpenAI-compatible completion request; `url` should point at the gateway's
/// `/v1/chat/completions` or `/v1/completions`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenAiSpec {
    #[serde(default = "chat")]
    pub api: OpenAiApi,
    pub model: String,
    #[serde(default = "default_prompt")]
    pub prompt: String,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stream: bool,
}

fn chat() -> OpenAiApi {
    OpenAiApi::Chat
}

fn default_prompt() -> String {
    "Say something about load testing.".to_owned()
}

/// A check; a failed check is counted and never stops the run.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<Vec<StatusRange>>,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub body_contains: Option<String>,
    /// JSON pointer (RFC 6901) that must exist in the response body ...
    #[serde(default)]
    pub json: Option<String>,
    /// ... and, when given, equal this value.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tokens {
    /// One token per line, or `tier,token`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Every file in it is read like `file`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Demo tokens `<tier>-<random>` per tier (the demo target maps tiers by prefix).
    #[serde(default)]
    pub generate: BTreeMap<String, u32>,
}

/// A scenario file that failed to load; always names the file, and the line when known.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}{}: {field}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        field: String,
        message: String,
    },
}

impl ScenarioFile {
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file = Self::parse(&text, path)?;
        // Relative body and token files are relative to the scenario file.
        if let Some(dir) = path.parent() {
            file.resolve_paths(dir);
        }
        Ok(file)
    }

    /// Parses and validates; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ScenarioError> {
        let file: Self = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ScenarioError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }
        })?;
        file.validate()
            .map_err(|(field, message)| ScenarioError::Invalid {
                path: path.to_owned(),
                line: locate_nearest(text, &field),
                field,
                message,
            })?;
        Ok(file)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        if let Some(t) = &mut self.tokens {
            t.file.as_mut().map(fix);
            t.dir.as_mut().map(fix);
        }
        for s in self.scenarios.values_mut() {
            for r in &mut s.requests {
                match &mut r.body {
                    Some(Body::File(p)) => fix(p),
                    Some(Body::Files(ps)) => ps.iter_mut().for_each(fix),
                    _ => {}
                }
            }
        }
    }

    /// Checks what serde cannot: which options an executor takes, and their ranges.
    /// Errors are `(field path, message)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.scenarios.is_empty() {
            return Err((
                "scenarios".into(),
                "at least one scenario is required".into(),
            ));
        }
        if let Some(t) = &self.tokens
            && t.file.is_none()
            && t.dir.is_none()
            && t.generate.is_empty()
        {
            return Err(("tokens".into(), "set file, dir or generate".into()));
        }
        for (name, s) in &self.scenarios {
            s.validate()
                .map_err(|(f, m)| (format!("scenarios.{name}.{f}"), m))?;
            if !valid_label_value(name) {
                return Err((
                    format!("scenarios.{name}"),
                    "scenario names are label values: letters, digits, '-', '_', '.'".into(),
                ));
            }
        }
        Ok(())
    }
}

fn valid_label_value(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Scenario {
    fn validate(&self) -> Result<(), (String, String)> {
        use Executor::*;
        let e = self.executor;
        // Which options each executor accepts, as k6 does.
        let allowed: &[&str] = match e {
            SharedIterations => &["vus", "iterations", "maxDuration", "steps"],
            PerVuIterations => &["vus", "iterations", "maxDuration", "steps"],
            ConstantVus => &["vus", "duration", "steps"],
            RampingVus => &["startVUs", "stages"],
            ConstantArrivalRate => &[
                "rate",
                "timeUnit",
                "duration",
                "preAllocatedVUs",
                "maxVUs",
                "steps",
            ],
            RampingArrivalRate => &[
                "startRate",
                "timeUnit",
                "stages",
                "preAllocatedVUs",
                "maxVUs",
            ],
            Doubling => &[
                "rate",
                "timeUnit",
                "every",
                "times",
                "preAllocatedVUs",
                "maxVUs",
            ],
        };
        let present = [
            ("vus", self.vus.is_some()),
            ("iterations", self.iterations.is_some()),
            ("duration", self.duration.is_some()),
            ("maxDuration", self.max_duration.is_some()),
            ("rate", self.rate.is_some()),
            ("timeUnit", self.time_unit.is_some()),
            ("preAllocatedVUs", self.pre_allocated_vus.is_some()),
            ("maxVUs", self.max_vus.is_some()),
            ("startVUs", self.start_vus.is_some()),
            ("startRate", self.start_rate.is_some()),
            ("stages", self.stages.is_some()),
            ("every", self.every.is_some()),
            ("times", self.times.is_some()),
            ("steps", self.steps.is_some()),
        ];
        for (field, set) in present {
            if set && !allowed.contains(&field) {
                return Err((
                    field.into(),
                    format!("not an option of executor {}", e.as_str()),
                ));
            }
        }
        let need = |field: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err((
                    field.to_owned(),
                    format!("required by executor {}", e.as_str()),
                ))
            }
        };
        let steps = self.steps.as_deref().unwrap_or_default();
        match e {
            ConstantVus => {
                need(
                    "duration",
                    self.duration.is_some()
                        || steps.iter().all(|s| s.duration.is_some()) && !steps.is_empty(),
                )?;
            }
            ConstantArrivalRate => {
                need("rate", self.rate.is_some() || !steps.is_empty())?;
                need(
                    "duration",
                    self.duration.is_some()
                        || steps.iter().all(|s| s.duration.is_some()) && !steps.is_empty(),
                )?;
            }
            RampingVus | RampingArrivalRate => {
                need(
                    "stages",
                    self.stages.as_ref().is_some_and(|s| !s.is_empty()),
                )?;
            }
            Doubling => need("rate", self.rate.is_some())?,
            SharedIterations | PerVuIterations => {}
        }
        if let Some(r) = self.rate.or(self.start_rate)
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(("rate".into(), "must be a non-negative number".into()));
        }
        if self.time_unit.is_some_and(|t| t.is_zero()) {
            return Err(("timeUnit".into(), "must be positive".into()));
        }
        if let (Some(p), Some(m)) = (self.pre_allocated_vus, self.max_vus)
            && m < p
        {
            return Err(("maxVUs".into(), "must be at least preAllocatedVUs".into()));
        }
        if let Some(v) = self.vus
            && v == 0
            && matches!(e, SharedIterations | PerVuIterations | ConstantVus)
        {
            return Err(("vus".into(), "must be at least 1".into()));
        }
        if e == SharedIterations
            && let (Some(v), Some(i)) = (self.vus, self.iterations)
            && i < v
        {
            return Err((
                "iterations".into(),
                format!("{i} iterations cannot keep {v} VUs busy (k6 requires iterations >= vus)"),
            ));
        }
        for (i, s) in steps.iter().enumerate() {
            if !(s.level.is_finite() && s.level >= 0.0) {
                return Err((
                    format!("steps.{i}"),
                    "level must be a non-negative number".into(),
                ));
            }
            if let Some(n) = &s.name
                && !valid_label_value(n)
            {
                return Err((
                    format!("steps.{i}.name"),
                    "letters, digits, '-', '_', '.' only".into(),
                ));
            }
            if s.iterations.is_some() && !matches!(e, SharedIterations | PerVuIterations) {
                return Err((
                    format!("steps.{i}.iterations"),
                    "only iteration executors take per-step iterations".into(),
                ));
            }
        }
        if self.requests.is_empty() {
            return Err(("requests".into(), "at least one request is required".into()));
        }
        validate_tags(&self.tags, "tags")?;
        for (i, r) in self.requests.iter().enumerate() {
            validate_tags(&r.tags, &format!("requests.{i}.tags"))?;
            if r.body.is_some() && r.openai.is_some() {
                return Err((
                    format!("requests.{i}.body"),
                    "an openai request builds its own body".into(),
                ));
            }
            if let Some(m) = &r.method
                && http::Method::from_bytes(m.as_bytes()).is_err()
            {
                return Err((
                    format!("requests.{i}.method"),
                    format!("{m:?} is not an HTTP method"),
                ));
            }
            if r.weight == Some(0) {
                return Err((format!("requests.{i}.weight"), "must be at least 1".into()));
            }
            for (j, c) in r.checks.iter().enumerate() {
                if c.status.is_none()
                    && c.header.is_none()
                    && c.body_contains.is_none()
                    && c.json.is_none()
                {
                    return Err((
                        format!("requests.{i}.checks.{j}"),
                        "set status, header, bodyContains or json".into(),
                    ));
                }
                if c.equals.is_some() && c.json.is_none() {
                    return Err((
                        format!("requests.{i}.checks.{j}.equals"),
                        "needs json (a JSON pointer)".into(),
                    ));
                }
            }
        }
        for (name, v) in &self.vars {
            match v {
                Var::Int([a, b]) if a > b => {
                    return Err((format!("vars.{name}.int"), "min must not exceed max".into()));
                }
                Var::Choice(c) if c.is_empty() => {
                    return Err((
                        format!("vars.{name}.choice"),
                        "needs at least one value".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// serde_norway appends " at line L column C"; the error already carries them apart.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The 1-based line of a dotted field path (`scenarios.burst.maxVUs`, `requests.2.weight`)
/// in a YAML document, found by walking keys at increasing indentation; `None` when the
/// path is not spelled out in block style.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut min_indent = 0usize;
    let mut found = None;
    for seg in path.split('.') {
        if let Ok(idx) = seg.parse::<usize>() {
            // The idx-th "- " item at the next indentation level.
            let mut count = 0;
            let mut item_indent = None;
            let mut hit = None;
            for (n, l) in lines.iter().enumerate().skip(from) {
                let indent = l.len() - l.trim_start().len();
                let t = l.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                if indent < min_indent && n > from {
                    break;
                }
                if t.starts_with("- ") || t == "-" {
                    if item_indent.is_none() {
                        item_indent = Some(indent);
                    }
                    if Some(indent) == item_indent {
                        if count == idx {
                            hit = Some((n, indent + 2));
                            break;
                        }
                        count += 1;
                    }
                }
            }
            let (n, ind) = hit?;
            found = Some(n + 1);
            from = n;
            min_indent = ind;
            // The item's first key is on the dash line; let the next key search include it.
            continue;
        }
        let mut hit = None;
        for (n, l) in lines.iter().enumerate().skip(from) {
            let t = l.trim_start().trim_start_matches("- ");
            let indent = l.len() - t.len();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if indent < min_indent && n > from {
                break;
            }
            let key = t.split(':').next().unwrap_or("").trim().trim_matches('"');
            if key == seg && t.contains(':') {
                hit = Some((n, indent + 1));
                break;
            }
        }
        let (n, ind) = hit?;
        found = Some(n + 1);
        from = n + 1;
        min_indent = ind;
    }
    found
}

/// [`locate`], else the line of the nearest enclosing field that is spelled out in block style
/// (a flow-style `{url: x, tags: {...}}` request: its `- ` line).
pub fn locate_nearest(text: &str, path: &str) -> Option<usize> {
    let mut p = path;
    loop {
        if let Some(line) = locate(text, p) {
            return Some(line);
        }
        p = &p[..p.rfind('.')?];
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    // k6 writes "1m30s"; humantime wants units split by spaces or not at all: it accepts both.
    if let Ok(ms) = s.parse::<u64>() {
        // k6 reads bare numbers as milliseconds.
        return Ok(Duration::from_millis(ms));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); use e.g. 30s, 2m, 1m30s"))
}

pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Ms(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Ms(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(s) => super::parse_duration(&s).map_err(serde::de::Error::custom),
        }
    }
}

pub(crate) mod opt_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ScenarioFile, ScenarioError> {
        ScenarioFile::parse(text, Path::new("s.yaml"))
    }

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
    fn unknown_field_names_file_path_and_line() {
        let e = parse("scenarios:\n  burst:\n    executor: shared-iterations\n    vu: 10\n    requests: [{url: 'http://x/'}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.yaml:4:"), "{e}");
        assert!(
            e.contains("scenarios.burst") && e.contains("unknown field `vu`"),
            "{e}"
        );
    }

    #[test]
    fn option_of_another_executor_is_refused_with_its_line() {
        let e = parse("scenarios:\n  burst:\n    executor: shared-iterations\n    vus: 2\n    iterations: 4\n    rate: 10\n    requests: [{url: 'http://x/'}]\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "s.yaml:6: scenarios.burst.rate: not an option of executor shared-iterations"
        );
    }

    #[test]
    fn locate_walks_nested_keys_and_items() {
        let text = "scenarios:\n  a:\n    requests:\n      - url: x\n        weight: 0\n      - url: y\n        weight: 2\n";
        assert_eq!(locate(text, "scenarios.a.requests"), Some(3));
        assert_eq!(locate(text, "scenarios.a.requests.1"), Some(6));
        assert_eq!(locate(text, "scenarios.a.requests.1.weight"), Some(7));
        assert_eq!(locate(text, "scenarios.a.requests.0.weight"), Some(5));
        assert_eq!(locate(text, "scenarios.b"), None);
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

    #[test]
    fn shared_iterations_needs_enough_iterations() {
        let e = parse("scenarios:\n  b:\n    executor: shared-iterations\n    vus: 10\n    iterations: 5\n    requests: [{url: /}]\n").unwrap_err();
        assert!(e.to_string().contains("iterations >= vus"), "{e}");
    }

    #[test]
    fn tags_are_scalars_and_bad_ones_name_field_and_line() {
        let f = parse("scenarios:\n  s:\n    executor: shared-iterations\n    tags: {team: blue, release: 2, canary: true}\n    requests: [{url: 'http://x/', tags: {component: api}}]\n").unwrap();
        let s = &f.scenarios["s"];
        assert_eq!(s.tags["release"], "2");
        assert_eq!(s.tags["canary"], "true");
        assert_eq!(s.requests[0].tags["component"], "api");
        let bad = |tags: &str| {
            parse(&format!("scenarios:\n  s:\n    executor: shared-iterations\n    requests:\n      - url: http://x/\n        tags:\n          {tags}\n"))
                .unwrap_err()
                .to_string()
        };
        let e = bad("9lives: x");
        assert!(
            e.starts_with("s.yaml:7: scenarios.s.requests.0.tags.9lives: ")
                && e.contains("not a Prometheus label name"),
            "{e}"
        );
        for builtin in [
            "name", "status", "tier", "testid", "url", "scenario", "kind", "check",
        ] {
            let e = bad(&format!("{builtin}: x"));
            assert!(e.contains("one of redline's own labels"), "{builtin}: {e}");
        }
        assert!(bad("__x: y").contains("Prometheus' own"));
        assert!(bad("user: '{{token}}'").contains("tag values are literals"));
        assert!(bad("user: 'vu-{{vu}}'").contains("tag values are literals"));
        assert!(bad("e: ''").contains("must not be empty"));
        assert!(bad(&format!("long: {}", "x".repeat(MAX_TAG_VALUE + 1))).contains("at most"));
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}: x")).collect();
        let e = bad(&format!("{{{}}}", many.join(", ")));
        assert!(
            e.starts_with("s.yaml:6: scenarios.s.requests.0.tags: "),
            "{e}"
        );
        // A flow-style request: its own line.
        let e = parse("scenarios:\n  s:\n    executor: shared-iterations\n    requests:\n      - {url: 'http://x/', tags: {Bad-Key: x}}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.yaml:5: scenarios.s.requests.0.tags.Bad-Key: "),
            "{e}"
        );
    }

    #[test]
    fn durations_accept_k6_forms() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1500").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
    }
}
