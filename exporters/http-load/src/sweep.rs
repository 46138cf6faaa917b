//! A run that is one step of a sweep spanning runs (`--step-name/--step-level/--step-unit`).
//!
//! Some levels cannot change inside one process: MaaS Test 3's active ServiceAccount token
//! count is cluster state, made by `redline tokens create` between runs. Each run then has a
//! single step, and these flags give that step the sweep's name, level and unit, so the runs
//! of one testid read as one stepped run: `redline_step_level{unit="tokens",step="tokens-10"}`,
//! and the drift rules' baseline (the lowest level seen for the testid) is the first level.

use crate::metrics::StepLabel;

/// The step this whole run is, as declared on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepStep {
    pub name: String,
    pub level: f64,
    pub unit: String,
}

impl SweepStep {
    /// From the three flags: none (not a sweep step), or at least level and unit. The name
    /// defaults to `<unit>-<level>`.
    pub fn from_flags(
        name: Option<&str>,
        level: Option<f64>,
        unit: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let (level, unit) = match (level, unit) {
            (None, None) if name.is_none() => return Ok(None),
            (Some(l), Some(u)) => (l, u),
            _ => {
                return Err(
                    "--step-name/--step-level/--step-unit: give --step-level and --step-unit together (and optionally --step-name)".into(),
                )
            }
        };
        if !level.is_finite() || level < 0.0 {
            return Err(format!(
                "--step-level {level}: expected a finite number >= 0"
            ));
        }
        // A Prometheus label value, but also one the rules match literally (unit="tokens"),
        // so keep it a plain lowercase word; `vus` and `rate` are the engine's own units.
        let word = !unit.is_empty()
            && unit.starts_with(|c: char| c.is_ascii_lowercase())
            && unit
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !word || unit == "vus" || unit == "rate" {
            return Err(format!(
                "--step-unit {unit:?}: expected a lowercase word such as `tokens` (not the engine's own `vus`/`rate`)"
            ));
        }
        let name = match name {
            Some(n) if n.trim().is_empty() => {
                return Err("--step-name: must not be empty".into());
            }
            Some(n) => n.trim().to_owned(),
            None => format!("{unit}-{level}"),
        };
        Ok(Some(Self {
            name,
            level,
            unit: unit.to_owned(),
        }))
    }

    /// Relabel a scenario's steps: it must have exactly one, which becomes this step.
    pub fn apply(&self, scenario: &str, steps: &mut [StepLabel]) -> Result<(), String> {
        match steps {
            [only] => {
                only.label = self.name.clone();
                only.level = self.level;
                only.unit = self.unit.clone();
                Ok(())
            }
            _ => Err(format!(
                "--step-level: scenario {scenario:?} has {} steps; a run that is one step of a sweep across runs must have exactly one (drop its steps/stages)",
                steps.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(l: &str) -> StepLabel {
        StepLabel {
            label: l.into(),
            level: 10.0,
            unit: "vus".into(),
        }
    }

    #[test]
    fn flags_parse_default_name_and_reject_bad_input() {
        assert_eq!(SweepStep::from_flags(None, None, None), Ok(None));
        let s = SweepStep::from_flags(None, Some(50.0), Some("tokens"))
            .unwrap()
            .unwrap();
        assert_eq!(s.name, "tokens-50");
        let s = SweepStep::from_flags(Some("t10"), Some(10.0), Some("tokens"))
            .unwrap()
            .unwrap();
        assert_eq!((s.name.as_str(), s.level), ("t10", 10.0));
        assert!(SweepStep::from_flags(Some("x"), None, None).is_err());
        assert!(SweepStep::from_flags(None, Some(1.0), None).is_err());
        assert!(SweepStep::from_flags(None, Some(f64::NAN), Some("tokens")).is_err());
        assert!(SweepStep::from_flags(None, Some(1.0), Some("Tokens")).is_err());
        assert!(SweepStep::from_flags(None, Some(1.0), Some("vus")).is_err());
        assert!(SweepStep::from_flags(Some(" "), Some(1.0), Some("tokens")).is_err());
    }

    #[test]
    fn apply_needs_exactly_one_step() {
        let s = SweepStep::from_flags(None, Some(250.0), Some("tokens"))
            .unwrap()
            .unwrap();
        let mut one = vec![label("1")];
        s.apply("maas", &mut one).unwrap();
        assert_eq!(
            (one[0].label.as_str(), one[0].level, one[0].unit.as_str()),
            ("tokens-250", 250.0, "tokens")
        );
        let mut two = vec![label("1"), label("2")];
        let e = s.apply("maas", &mut two).unwrap_err();
        assert!(e.contains("\"maas\" has 2 steps"), "{e}");
    }
}
