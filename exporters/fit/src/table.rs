//! The report as the table the seed filled in by hand: per workload, totals, then each
//! budget's share of requests (the verdict), limits and actual usage.

use std::fmt;

use crate::quantity::{fmt_cpu, fmt_mem};
use crate::report::{BudgetFit, FitReport, Share};
use crate::usage::UsageStatus;

fn opt(v: Option<u64>, f: fn(u64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.0}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// `used / budget = ratio% verdict`, in the resource's own units.
fn share_cell(s: &Share, unit: fn(u64) -> String) -> String {
    format!(
        "{} / {} = {:.1}% {}",
        unit(s.used),
        unit(s.budget),
        s.ratio * 100.0,
        s.verdict
    )
}

fn usage_cell(b: &BudgetFit) -> String {
    match (b.cpu_usage, b.memory_usage) {
        (Some(c), Some(m)) => format!(
            "{}/{} {}",
            pct(Some(c.ratio)),
            pct(Some(m.ratio)),
            c.verdict.max(m.verdict)
        ),
        _ => "-".into(),
    }
}

impl fmt::Display for FitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.scope.is_empty() {
            writeln!(f, "Workloads of {}", self.scope)?;
        }
        let several_namespaces = self
            .workloads
            .iter()
            .any(|w| w.namespace != self.workloads[0].namespace);
        let names: Vec<String> = self
            .workloads
            .iter()
            .map(|w| {
                let name = format!("{}/{}", w.kind.to_lowercase(), w.name);
                match several_namespaces {
                    true => format!("{}: {name}", w.namespace.as_deref().unwrap_or("-")),
                    false => name,
                }
            })
            .collect();
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(32);
        writeln!(
            f,
            "{:<width$} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
            "WORKLOAD", "REPLICAS", "CPU REQUESTS", "MEMORY REQUESTS", "CPU LIM", "MEM LIM"
        )?;
        for (w, name) in self.workloads.iter().zip(&names) {
            writeln!(
                f,
                "{:<width$} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
                name,
                w.replicas,
                format!(
                    "{} × {} = {}",
                    w.replicas,
                    fmt_cpu(w.cpu_request_millis),
                    fmt_cpu(w.replicas * w.cpu_request_millis)
                ),
                format!(
                    "{} × {} = {}",
                    w.replicas,
                    fmt_mem(w.memory_request_bytes),
                    fmt_mem(w.replicas * w.memory_request_bytes)
                ),
                opt(w.cpu_limit_millis.map(|l| l * w.replicas), fmt_cpu),
                opt(w.memory_limit_bytes.map(|l| l * w.replicas), fmt_mem),
            )?;
        }
        writeln!(
            f,
            "{:<width$} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
            "TOTAL",
            self.workloads.iter().map(|w| w.replicas).sum::<u64>(),
            fmt_cpu(self.cpu_requests_millis),
            fmt_mem(self.memory_requests_bytes),
            opt(self.cpu_limits_millis, fmt_cpu),
            opt(self.memory_limits_bytes, fmt_mem),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<12} {:<38} {:<40} {:<13} {:<15} USAGE CPU/MEM",
            "BUDGET", "CPU (requests)", "MEMORY (requests)", "VERDICT", "LIMITS CPU/MEM"
        )?;
        for b in &self.budgets {
            writeln!(
                f,
                "{:<12} {:<38} {:<40} {:<13} {:<15} {}",
                b.budget.name,
                share_cell(&b.cpu, fmt_cpu),
                share_cell(&b.memory, fmt_mem),
                b.verdict.to_string(),
                format!("{}/{}", pct(b.cpu_limits_ratio), pct(b.memory_limits_ratio)),
                usage_cell(b),
            )?;
        }
        match &self.usage {
            UsageStatus::NotRead => {}
            UsageStatus::Available(u) => writeln!(
                f,
                "\nUsage (metrics.k8s.io, {} pods): {} CPU, {} memory",
                u.pods,
                fmt_cpu((u.cpu_cores * 1000.0).round() as u64),
                fmt_mem(u.memory_bytes.round() as u64),
            )?,
            UsageStatus::Unavailable { reason } => {
                writeln!(f, "\nUsage: unavailable, not judged: {reason}")?
            }
        }
        if !self.skipped_namespaces.is_empty() {
            let skipped: Vec<String> = self
                .skipped_namespaces
                .iter()
                .map(|(ns, n)| format!("{n} in {ns}"))
                .collect();
            writeln!(
                f,
                "Left out (other namespaces; --all-namespaces counts them): {} workload(s): {}",
                self.skipped_namespaces.values().sum::<usize>(),
                skipped.join(", ")
            )?;
        }
        Ok(())
    }
}
