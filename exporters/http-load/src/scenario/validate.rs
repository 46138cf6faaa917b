//! What serde cannot check: which options an executor takes and which it needs, ranges,
//! names that become label values, and `tags` that become labels. Errors are
//! `(field path, message)`; loading turns the path into a line.

use std::collections::BTreeMap;

use super::model::{Executor, Scenario, ScenarioFile, Var};

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
        if let Some(message) = tag_problem(k, v) {
            return Err((format!("{at}.{k}"), message));
        }
    }
    Ok(())
}

/// What is wrong with one tag, if anything: the first rule it breaks.
fn tag_problem(k: &str, v: &str) -> Option<String> {
    let builtin = || {
        redline_catalogue::http_load::ALL
            .iter()
            .flat_map(|m| m.labels.iter().copied())
            .chain(RESERVED_LABELS.iter().copied())
            .any(|b| b == k)
    };
    let problem = if !redline_remote_write::valid_label_name(k) {
        format!("tag key {k:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    } else if k.starts_with("__") {
        format!("tag key {k:?}: names starting with __ are Prometheus' own")
    } else if builtin() {
        format!("tag key {k:?} is one of redline's own labels; pick another name")
    } else if v.contains("{{") {
        "tag values are literals: a {{...}} template would put a token or a value per iteration into a label".into()
    } else if v.is_empty() {
        "a tag value must not be empty (Prometheus drops empty labels)".into()
    } else if v.chars().count() > MAX_TAG_VALUE || v.chars().any(char::is_control) {
        format!("a tag value is at most {MAX_TAG_VALUE} printable characters")
    } else {
        return None;
    };
    Some(problem)
}

impl ScenarioFile {
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

#[cfg(test)]
mod tests {
    use super::super::load::parse_as_s_yaml as parse;
    use super::*;

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
}
