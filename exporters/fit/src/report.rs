//! The fit of a workload to each budget: requests (what the scheduler must reserve, and
//! what the verdict is judged on), limits (shown beside) and, when read, actual usage,
//! each as a share of the budget with fits / tight / does not fit.
//!
//! Choices: Deployments and StatefulSets count `spec.replicas` (default 1); a DaemonSet
//! counts one pod per node, `--nodes` nodes (default 1: a VPS is one node). A pod's request
//! is the scheduler's effective request (containers + sidecars, or the largest init
//! container if larger); a container with only a limit requests its limit.

use std::collections::BTreeMap;
use std::fmt;

use crate::budget::Budget;
use crate::usage::UsageStatus;
use crate::workloads::Workload;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Fits,
    Tight,
    DoesNotFit,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fits => "fits",
            Self::Tight => "tight",
            Self::DoesNotFit => "does not fit",
        })
    }
}

/// One resource of one budget.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Share {
    /// Millicores or bytes.
    pub used: u64,
    pub budget: u64,
    pub ratio: f64,
    pub verdict: Verdict,
}

/// Where a share turns tight and where it no longer fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub tight_above: f64,
    pub does_not_fit_above: f64,
}

impl Thresholds {
    fn share(&self, used: f64, budget: u64) -> Share {
        let ratio = used / budget as f64;
        let verdict = if ratio > self.does_not_fit_above {
            Verdict::DoesNotFit
        } else if ratio > self.tight_above {
            Verdict::Tight
        } else {
            Verdict::Fits
        };
        Share {
            used: used.round() as u64,
            budget,
            ratio,
            verdict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetFit {
    pub budget: Budget,
    /// Requests over the budget.
    pub cpu: Share,
    pub memory: Share,
    /// The worse of the two requests shares: what the run is judged on.
    pub verdict: Verdict,
    /// Limits over the budget, when every workload has limits.
    pub cpu_limits_ratio: Option<f64>,
    pub memory_limits_ratio: Option<f64>,
    /// Actual usage over the budget, when it was read.
    pub cpu_usage: Option<Share>,
    pub memory_usage: Option<Share>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// What was counted, e.g. "namespace shop".
    pub scope: String,
    pub workloads: Vec<Workload>,
    pub cpu_requests_millis: u64,
    pub memory_requests_bytes: u64,
    /// None when some workload with replicas has no limit.
    pub cpu_limits_millis: Option<u64>,
    pub memory_limits_bytes: Option<u64>,
    pub usage: UsageStatus,
    pub budgets: Vec<BudgetFit>,
    /// Workloads of the manifests left out because their namespace is out of scope.
    pub skipped_namespaces: BTreeMap<String, usize>,
}

impl FitReport {
    pub fn compute(
        mut workloads: Vec<Workload>,
        usage: UsageStatus,
        budgets: &[Budget],
        thresholds: Thresholds,
    ) -> Self {
        workloads.sort_by(|a, b| {
            (&a.namespace, &a.kind, &a.name).cmp(&(&b.namespace, &b.kind, &b.name))
        });
        let sum =
            |f: fn(&Workload) -> u64| workloads.iter().map(|w| w.replicas * f(w)).sum::<u64>();
        let sum_opt = |f: fn(&Workload) -> Option<u64>| {
            workloads
                .iter()
                .filter(|w| w.replicas > 0)
                .map(|w| f(w).map(|v| v * w.replicas))
                .sum::<Option<u64>>()
        };
        let cpu = sum(|w| w.cpu_request_millis);
        let mem = sum(|w| w.memory_request_bytes);
        let cpu_lim = sum_opt(|w| w.cpu_limit_millis);
        let mem_lim = sum_opt(|w| w.memory_limit_bytes);
        let used = usage.usage().copied();
        let budgets = budgets
            .iter()
            .map(|b| {
                let c = thresholds.share(cpu as f64, b.cpu_millis);
                let m = thresholds.share(mem as f64, b.memory_bytes);
                BudgetFit {
                    budget: b.clone(),
                    cpu: c,
                    memory: m,
                    verdict: c.verdict.max(m.verdict),
                    cpu_limits_ratio: cpu_lim.map(|l| l as f64 / b.cpu_millis as f64),
                    memory_limits_ratio: mem_lim.map(|l| l as f64 / b.memory_bytes as f64),
                    cpu_usage: used.map(|u| thresholds.share(u.cpu_cores * 1000.0, b.cpu_millis)),
                    memory_usage: used.map(|u| thresholds.share(u.memory_bytes, b.memory_bytes)),
                }
            })
            .collect();
        Self {
            scope: String::new(),
            workloads,
            cpu_requests_millis: cpu,
            memory_requests_bytes: mem,
            cpu_limits_millis: cpu_lim,
            memory_limits_bytes: mem_lim,
            usage,
            budgets,
            skipped_namespaces: BTreeMap::new(),
        }
    }

    /// True when every budget fits or is tight.
    pub fn all_fit(&self) -> bool {
        self.budgets
            .iter()
            .all(|b| b.verdict != Verdict::DoesNotFit)
    }

    /// True when at least one budget fits or is tight: several budgets are usually
    /// compared (4/6/8 GB), and a run fails only when none of them would do.
    pub fn any_fit(&self) -> bool {
        self.budgets
            .iter()
            .any(|b| b.verdict != Verdict::DoesNotFit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;

    fn workload(name: &str, replicas: u64, cpu: u64, mem: u64, limits: bool) -> Workload {
        Workload {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: name.into(),
            replicas,
            cpu_request_millis: cpu,
            memory_request_bytes: mem,
            cpu_limit_millis: limits.then_some(cpu * 2),
            memory_limit_bytes: limits.then_some(mem * 2),
            labels: BTreeMap::new(),
            pod_selector: None,
        }
    }

    const THRESHOLDS: Thresholds = Thresholds {
        tight_above: 0.9,
        does_not_fit_above: 1.25,
    };

    #[test]
    fn usage_is_judged_beside_requests_and_never_invented() {
        let budgets = ["vps=2cpu,4Gi".parse().unwrap()];
        let usage = UsageStatus::Available(Usage {
            cpu_cores: 2.6,
            memory_bytes: (1u64 << 30) as f64,
            pods: 3,
        });
        let r = FitReport::compute(
            vec![workload("web", 2, 500, 1 << 30, true)],
            usage,
            &budgets,
            THRESHOLDS,
        );
        let b = &r.budgets[0];
        assert_eq!((b.cpu.ratio, b.memory.ratio), (0.5, 0.5));
        assert_eq!(b.verdict, Verdict::Fits, "the verdict is the requests'");
        let cpu = b.cpu_usage.unwrap();
        assert!((cpu.ratio - 1.3).abs() < 1e-12);
        assert_eq!((cpu.used, cpu.verdict), (2600, Verdict::DoesNotFit));
        assert_eq!(b.memory_usage.unwrap().ratio, 0.25);
        assert_eq!(b.cpu_limits_ratio, Some(1.0));
        assert!(r.all_fit() && r.any_fit());

        let unavailable = UsageStatus::Unavailable {
            reason: "not served".into(),
        };
        let r = FitReport::compute(
            vec![workload("web", 2, 500, 1 << 30, false)],
            unavailable,
            &budgets,
            THRESHOLDS,
        );
        assert_eq!(r.budgets[0].cpu_usage, None, "no usage, no share: not 0");
        assert_eq!(r.budgets[0].cpu_limits_ratio, None);
    }

    #[test]
    fn the_run_fails_only_when_no_budget_fits() {
        let budgets: Vec<Budget> = ["small=1,1Gi", "large=8,16Gi"]
            .iter()
            .map(|b| b.parse().unwrap())
            .collect();
        let r = FitReport::compute(
            vec![workload("web", 4, 1000, 1 << 30, false)],
            UsageStatus::NotRead,
            &budgets,
            THRESHOLDS,
        );
        assert_eq!(r.budgets[0].verdict, Verdict::DoesNotFit);
        assert_eq!(r.budgets[1].verdict, Verdict::Fits);
        assert!(!r.all_fit() && r.any_fit());
        let r = FitReport::compute(
            vec![workload("web", 4, 1000, 1 << 30, false)],
            UsageStatus::NotRead,
            &budgets[..1],
            THRESHOLDS,
        );
        assert!(!r.any_fit());
    }
}
