//! The series `redline fit --watch` writes, registered under the catalogue's names, and
//! how a report becomes their values.
//!
//! A basis that is not known (usage with no pod metrics API, limits when a workload has
//! none) has no series: the runtime marks it stale, so no panel or alert reads an
//! invented 0. `redline_fit_usage_available` says which case it is.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::fit as cat;

use crate::report::{FitReport, Share};
use crate::usage::UsageStatus;

/// What a ratio or total is of: `requests` (what the scheduler reserves), `limits`
/// (the cap), `usage` (what the pods actually use, from metrics.k8s.io).
pub const BASES: [&str; 3] = ["requests", "limits", "usage"];

pub use redline_catalogue::fit::{BasisLabels, RatioLabels};

type GaugeF = Gauge<f64, std::sync::atomic::AtomicU64>;

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub budget_ratio: Family<RatioLabels, GaugeF>,
    pub cpu_cores: Family<BasisLabels, GaugeF>,
    pub memory_bytes: Family<BasisLabels, GaugeF>,
    pub usage_available: Gauge,
}

/// Sets the series of `labels` to `value`, or removes it when the value is unknown.
fn set_or_remove<L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug>(
    family: &Family<L, GaugeF>,
    labels: &L,
    value: Option<f64>,
) {
    match value {
        Some(v) => {
            family.get_or_create(labels).set(v);
        }
        None => {
            family.remove(labels);
        }
    }
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        cat::Families {
            BUDGET_RATIO: m.budget_ratio.clone(),
            CPU_CORES: m.cpu_cores.clone(),
            MEMORY_BYTES: m.memory_bytes.clone(),
            USAGE_AVAILABLE: m.usage_available.clone(),
        }
        .register(registry);
        m
    }

    /// Writes one report: every budget's ratio on every known basis, the totals, and
    /// whether usage was available.
    pub fn record(&self, report: &FitReport) {
        let usage = report.usage.usage();
        for b in &report.budgets {
            let ratio = |resource: &str, basis: &str, value: Option<f64>| {
                let labels = RatioLabels {
                    budget: b.budget.name.clone(),
                    resource: resource.into(),
                    basis: basis.into(),
                };
                set_or_remove(&self.budget_ratio, &labels, value);
            };
            let of = |s: Option<Share>| s.map(|s| s.ratio);
            ratio("cpu", "requests", Some(b.cpu.ratio));
            ratio("memory", "requests", Some(b.memory.ratio));
            ratio("cpu", "limits", b.cpu_limits_ratio);
            ratio("memory", "limits", b.memory_limits_ratio);
            ratio("cpu", "usage", of(b.cpu_usage));
            ratio("memory", "usage", of(b.memory_usage));
        }
        let totals = [
            (
                "requests",
                Some(report.cpu_requests_millis as f64 / 1000.0),
                Some(report.memory_requests_bytes as f64),
            ),
            (
                "limits",
                report.cpu_limits_millis.map(|m| m as f64 / 1000.0),
                report.memory_limits_bytes.map(|b| b as f64),
            ),
            (
                "usage",
                usage.map(|u| u.cpu_cores),
                usage.map(|u| u.memory_bytes),
            ),
        ];
        for (basis, cpu, memory) in totals {
            let labels = BasisLabels {
                basis: basis.into(),
            };
            set_or_remove(&self.cpu_cores, &labels, cpu);
            set_or_remove(&self.memory_bytes, &labels, memory);
        }
        let available = match report.usage {
            UsageStatus::Available(_) => 1,
            UsageStatus::Unavailable { .. } => 0,
            UsageStatus::NotRead => return,
        };
        self.usage_available.set(available);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Thresholds;
    use crate::usage::Usage;
    use crate::workloads::Workload;

    fn available(cpu_cores: f64, memory_bytes: f64, pods: usize) -> UsageStatus {
        UsageStatus::Available(Usage {
            cpu_cores,
            memory_bytes,
            pods,
        })
    }

    fn report(usage: UsageStatus, limits: bool) -> FitReport {
        let w = Workload {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
            replicas: 2,
            cpu_request_millis: 750,
            memory_request_bytes: 1 << 30,
            cpu_limit_millis: limits.then_some(1000),
            memory_limit_bytes: limits.then_some(1 << 30),
            labels: Default::default(),
            pod_selector: None,
        };
        FitReport::compute(
            vec![w],
            usage,
            &["vps=3cpu,4Gi".parse().unwrap()],
            Thresholds {
                tight_above: 0.9,
                does_not_fit_above: 1.25,
            },
        )
    }

    fn exposition(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn every_family_is_catalogued_and_every_basis_written() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.record(&report(available(3.3, (1u64 << 30) as f64, 2), true));
        let problems = redline_runtime::catalogue_mismatches(&registry, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        let text = exposition(&registry);
        for want in [
            r#"redline_fit_budget_ratio{budget="vps",resource="cpu",basis="requests"} 0.5"#,
            r#"redline_fit_budget_ratio{budget="vps",resource="memory",basis="limits"} 0.5"#,
            r#"redline_fit_budget_ratio{budget="vps",resource="cpu",basis="usage"} 1.1"#,
            r#"redline_fit_cpu_cores{basis="requests"} 1.5"#,
            r#"redline_fit_memory_bytes{basis="usage"} 1073741824"#,
            "redline_fit_usage_available 1",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }

    #[test]
    fn unknown_bases_have_no_series_rather_than_a_zero() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.record(&report(available(1.0, 1.0, 1), true));
        // metrics.k8s.io goes away, a workload loses its limits.
        m.record(&report(
            UsageStatus::Unavailable {
                reason: "404".into(),
            },
            false,
        ));
        let text = exposition(&registry);
        assert!(text.contains("redline_fit_usage_available 0"), "{text}");
        assert!(text.contains(r#"basis="requests""#), "{text}");
        for gone in [r#"basis="usage""#, r#"basis="limits""#] {
            assert!(!text.contains(gone), "{gone} still written:\n{text}");
        }
    }
}
