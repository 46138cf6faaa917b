//! What `redline tokens limits` prints: each policy's limits before and during the run,
//! and how the hold ended.

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

use serde_json::Value;

use super::plan::Change;
use super::spec::PolicyRef;

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChange {
    pub policy: PolicyRef,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// SIGTERM/SIGINT (or the caller's stop).
    Stopped,
    Duration(Duration),
    Command(ExitStatus),
    /// `--restore`: nothing was raised by this run.
    RestoreOnly(Vec<PolicyRef>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LimitsReport {
    pub namespace: String,
    pub policies: Vec<PolicyChange>,
    pub ended: Ended,
}

fn rate(limit: &Value, window: &Value) -> String {
    let w = window.as_str().unwrap_or("?");
    format!("{limit} / {w}")
}

impl fmt::Display for LimitsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ended::RestoreOnly(policies) = &self.ended {
            for p in policies {
                writeln!(f, "{p} in {}: restored from its annotation", self.namespace)?;
            }
            return Ok(());
        }
        writeln!(
            f,
            "{:<50} {:<36} {:>20} {:>20}",
            "policy", "field", "original", "during the run"
        )?;
        for p in &self.policies {
            for c in &p.changes {
                writeln!(
                    f,
                    "{:<50} {:<36} {:>20} {:>20}",
                    format!("{}/{}", self.namespace, p.policy),
                    c.field,
                    rate(&c.original_limit, &c.original_window),
                    rate(&Value::from(c.limit), &c.window),
                )?;
            }
        }
        let how = match &self.ended {
            Ended::Stopped => "the run was stopped (SIGTERM/SIGINT)".to_string(),
            Ended::Duration(d) => format!("{} passed", humantime::format_duration(*d)),
            Ended::Command(s) => format!("the run's command exited ({s})"),
            Ended::RestoreOnly(_) => unreachable!("handled above"),
        };
        writeln!(f, "restored to the originals: {how}")
    }
}
