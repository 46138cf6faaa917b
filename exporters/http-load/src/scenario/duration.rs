//! Durations as k6 writes them, in scenario files and in flags: humantime's "30s", "1m30s",
//! "500ms", and a bare number of milliseconds (`1500`), which is k6's rule.
//!
//! Not `humantime-serde`: it reads strings only and, like humantime, refuses a number without
//! a unit ("time unit needed"), so k6's bare milliseconds would stop parsing. What is left
//! here is that rule and one serde entry point for `Duration` and `Option<Duration>` fields.

use std::fmt;
use std::time::Duration;

use serde::Deserializer;
use serde::de::{self, Visitor};

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

/// For `#[serde(with = "duration")]` on a `Duration` or (with `default`) an
/// `Option<Duration>` field: a YAML number is milliseconds, a string goes through
/// [`parse_duration`]. A visitor rather than an untagged enum, so that serde_norway reports a
/// bad value at its own line and field, not at the enclosing map's.
pub fn deserialize<'de, D: Deserializer<'de>, T: From<Duration>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(K6Duration).map(T::from)
}

struct K6Duration;

impl Visitor<'_> for K6Duration {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration: 30s, 2m, 1m30s, 500ms, or a number of milliseconds")
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(ms))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
        parse_duration(s).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::parse_as_s_yaml as parse;
    use super::*;
    use crate::scenario::model::Think;

    #[test]
    fn durations_accept_k6_forms() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1500").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
    }

    /// In a scenario file: a YAML number is milliseconds (k6's rule, which humantime-serde
    /// would refuse), a string goes through the same parser as the flags, and a bad one is
    /// refused with the file, the field and the line.
    #[test]
    fn scenario_files_take_k6_durations() {
        let f = parse(
            "timeout: 1500\nscenarios:\n  s:\n    executor: constant-vus\n    duration: \"250\"\n    cooldown: 1m30s\n    think: {min: 500ms, max: 2000}\n    requests: [{url: /}]\n",
        )
        .unwrap();
        assert_eq!(f.timeout, Duration::from_millis(1500));
        let s = &f.scenarios["s"];
        assert_eq!(s.duration, Some(Duration::from_millis(250)));
        assert_eq!(s.cooldown, Some(Duration::from_secs(90)));
        assert_eq!(
            s.think,
            Some(Think::Uniform {
                min: Duration::from_millis(500),
                max: Duration::from_secs(2)
            })
        );
        let e = parse("scenarios:\n  s:\n    executor: constant-vus\n    duration: soon\n    requests: [{url: /}]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.yaml:4:")
                && e.contains("scenarios.s.duration")
                && e.contains("\"soon\" is not a duration"),
            "{e}"
        );
    }
}
