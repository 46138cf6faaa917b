//! What a chaos run found, printed at its end and returned to callers.

use std::fmt;
use std::time::Duration;

use crate::args::FaultKind;

#[derive(Debug, Clone)]
pub struct FaultReport {
    pub seq: u32,
    /// The `fault` label.
    pub fault: String,
    pub kind: FaultKind,
    /// Pods, node or partition sides.
    pub target: String,
    pub dry_run: bool,
    /// What was (or, in a dry run, would be) done, in order.
    pub actions: Vec<String>,
    pub workload: Option<Duration>,
    pub endpoints: Option<Duration>,
    pub user: Option<Duration>,
    /// Clocks that did not stop within `--recovery-timeout`.
    pub timed_out: Vec<String>,
    /// Per probe: longest interruption, failed attempts.
    pub interruptions: Vec<(String, Duration, u64)>,
    pub evictions_refused: u64,
    pub not_evicted: Vec<String>,
    pub lost_writes: u64,
    pub unverified_reads: u64,
}

impl Default for FaultReport {
    fn default() -> Self {
        Self {
            seq: 0,
            fault: String::new(),
            kind: FaultKind::PodKill,
            target: String::new(),
            dry_run: false,
            actions: Vec::new(),
            workload: None,
            endpoints: None,
            user: None,
            timed_out: Vec::new(),
            interruptions: Vec::new(),
            evictions_refused: 0,
            not_evicted: Vec::new(),
            lost_writes: 0,
            unverified_reads: 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProbeSummary {
    pub name: String,
    pub attempts: u64,
    pub failures: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub faults: Vec<FaultReport>,
    pub probes: Vec<ProbeSummary>,
    pub writes_attempted: u64,
    pub writes_acknowledged: u64,
    pub lost_writes: u64,
    /// Actions that could not be undone (the cluster needs a hand).
    pub undo_failed: Vec<String>,
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}s", d.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<4} {:<18} {:<32} {:>9} {:>10} {:>9}  notes",
            "#", "fault", "target", "workload", "endpoints", "user"
        )?;
        for r in &self.faults {
            let mut notes = Vec::new();
            if r.dry_run {
                notes.push("dry run".to_string());
            }
            for (p, d, failed) in &r.interruptions {
                notes.push(format!(
                    "{p}: interrupted {:.2}s, {failed} failed",
                    d.as_secs_f64()
                ));
            }
            if r.evictions_refused > 0 {
                notes.push(format!("{} evictions refused", r.evictions_refused));
            }
            if !r.not_evicted.is_empty() {
                notes.push(format!("not evicted: {}", r.not_evicted.join(",")));
            }
            if !r.timed_out.is_empty() {
                notes.push(format!("NOT RECOVERED: {}", r.timed_out.join(",")));
            }
            if r.lost_writes > 0 {
                notes.push(format!("{} acknowledged writes LOST", r.lost_writes));
            }
            let mut target = r.target.clone();
            if target.len() > 32 {
                target.truncate(29);
                target.push_str("...");
            }
            writeln!(
                f,
                "{:<4} {:<18} {:<32} {:>9} {:>10} {:>9}  {}",
                r.seq,
                r.fault,
                target,
                secs(r.workload),
                secs(r.endpoints),
                secs(r.user),
                notes.join("; ")
            )?;
        }
        for p in &self.probes {
            writeln!(
                f,
                "probe {}: {} attempts, {} failed",
                p.name, p.attempts, p.failures
            )?;
        }
        if self.writes_attempted > 0 {
            writeln!(
                f,
                "data: {} writes, {} acknowledged, {} acknowledged writes lost",
                self.writes_attempted, self.writes_acknowledged, self.lost_writes
            )?;
        }
        for u in &self.undo_failed {
            writeln!(f, "COULD NOT UNDO: {u}")?;
        }
        Ok(())
    }
}
