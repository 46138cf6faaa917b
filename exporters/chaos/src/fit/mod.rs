//! `redline fit`: do a namespace's workloads fit a small VPS? Sums requests (and limits)
//! × replicas and compares them with each `--budget`, as the seed did by hand:
//! per workload, totals, % of each budget, fits / tight / does not fit.
//!
//! Choices: Deployments and StatefulSets count `spec.replicas` (default 1); a DaemonSet
//! counts one pod per node, `--nodes` nodes (default 1: a VPS is one node). A pod's request
//! is the scheduler's effective request (containers + sidecars, or the largest init
//! container if larger); a container with only a limit requests its limit.
//! The verdict is judged on requests (what must be reserved); limits are shown beside.

pub mod quantity;
pub mod workloads;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use workloads::Workload;

use crate::ChaosError;
use crate::selector::Selector;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {field}: {message}", file.display())]
    Manifest {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{object}: {message}")]
    Cluster { object: String, message: String },
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Flags(String),
}

/// `cpu=2,memory=4Gi[,name=small]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    pub name: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (mut cpu, mut mem, mut name) = (None, None, None);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("budget {s:?}: {part:?} is not key=value"))?;
            match k.trim() {
                "cpu" => {
                    cpu = Some((
                        v.trim().to_string(),
                        quantity::cpu_millis(v).map_err(|e| format!("budget {s:?}: cpu: {e}"))?,
                    ))
                }
                "memory" | "mem" => {
                    mem = Some((
                        v.trim().to_string(),
                        quantity::bytes(v).map_err(|e| format!("budget {s:?}: memory: {e}"))?,
                    ))
                }
                "name" => name = Some(v.trim().to_string()),
                other => {
                    return Err(format!(
                        "budget {s:?}: unknown key {other:?} (cpu, memory, name)"
                    ));
                }
            }
        }
        let (Some((cpu_raw, cpu_millis)), Some((mem_raw, memory_bytes))) = (cpu, mem) else {
            return Err(format!("budget {s:?}: needs cpu= and memory="));
        };
        if cpu_millis == 0 || memory_bytes == 0 {
            return Err(format!("budget {s:?}: cpu and memory must be above zero"));
        }
        Ok(Self {
            name: name.unwrap_or_else(|| format!("{mem_raw}/{cpu_raw}cpu")),
            cpu_millis,
            memory_bytes,
        })
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

fn selector(s: &str) -> Result<Selector, String> {
    s.parse()
}

#[derive(Debug, Clone, clap::Args)]
pub struct FitArgs {
    /// Namespace whose workloads are summed (with --manifests: objects of other
    /// namespaces are skipped; objects without one are kept).
    #[arg(long, env = "REDLINE_FIT_NAMESPACE")]
    pub namespace: Option<String>,

    /// Read workloads from these manifests (a file or a directory of .yaml/.yml/.json)
    /// instead of the cluster.
    #[arg(long, env = "REDLINE_FIT_MANIFESTS")]
    pub manifests: Option<PathBuf>,

    /// A budget, `cpu=2,memory=4Gi[,name=vps-4g]` (repeatable).
    #[arg(
        long = "budget",
        env = "REDLINE_FIT_BUDGETS",
        value_delimiter = ';',
        required = true
    )]
    pub budgets: Vec<Budget>,

    /// Only workloads whose labels match, e.g. 'app.kubernetes.io/part-of!=monitoring'
    /// (the seed's lesson: monitoring must not eat the application's budget).
    #[arg(long, env = "REDLINE_FIT_SELECTOR", value_parser = selector, default_value = "")]
    pub selector: Selector,

    /// Nodes a DaemonSet runs on (one pod each).
    #[arg(long, env = "REDLINE_FIT_NODES", default_value_t = 1)]
    pub nodes: u64,

    /// Share of a budget above which the fit is "tight".
    #[arg(long, env = "REDLINE_FIT_TIGHT_ABOVE", default_value_t = 0.9)]
    pub tight_above: f64,

    /// Share of a budget above which it "does not fit". Above 1 allows a small overshoot
    /// of requests that burstable pods absorb (the seed's 111 % CPU on 3 cores was
    /// "manageable"); set 1 to judge as strictly as the scheduler.
    #[arg(long, env = "REDLINE_FIT_DOES_NOT_FIT_ABOVE", default_value_t = 1.25)]
    pub does_not_fit_above: f64,

    #[arg(long, env = "REDLINE_FIT_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// One resource of one budget.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Share {
    pub used: u64,
    pub budget: u64,
    pub ratio: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetFit {
    pub budget: Budget,
    pub cpu: Share,
    pub memory: Share,
    /// The worse of the two.
    pub verdict: Verdict,
    /// Limits over the budget, when every workload has limits.
    pub cpu_limits_ratio: Option<f64>,
    pub memory_limits_ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    pub workloads: Vec<Workload>,
    pub cpu_requests_millis: u64,
    pub memory_requests_bytes: u64,
    /// None when some workload with replicas has no limit.
    pub cpu_limits_millis: Option<u64>,
    pub memory_limits_bytes: Option<u64>,
    pub budgets: Vec<BudgetFit>,
}

impl FitReport {
    pub fn compute(
        mut workloads: Vec<Workload>,
        budgets: &[Budget],
        tight_above: f64,
        does_not_fit_above: f64,
    ) -> Self {
        workloads.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
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
        let share = |used: u64, budget: u64| {
            let ratio = used as f64 / budget as f64;
            let verdict = if ratio > does_not_fit_above {
                Verdict::DoesNotFit
            } else if ratio > tight_above {
                Verdict::Tight
            } else {
                Verdict::Fits
            };
            Share {
                used,
                budget,
                ratio,
                verdict,
            }
        };
        let budgets = budgets
            .iter()
            .map(|b| {
                let (c, m) = (share(cpu, b.cpu_millis), share(mem, b.memory_bytes));
                BudgetFit {
                    budget: b.clone(),
                    cpu: c,
                    memory: m,
                    verdict: c.verdict.max(m.verdict),
                    cpu_limits_ratio: cpu_lim.map(|l| l as f64 / b.cpu_millis as f64),
                    memory_limits_ratio: mem_lim.map(|l| l as f64 / b.memory_bytes as f64),
                }
            })
            .collect();
        Self {
            workloads,
            cpu_requests_millis: cpu,
            memory_requests_bytes: mem,
            cpu_limits_millis: cpu_lim,
            memory_limits_bytes: mem_lim,
            budgets,
        }
    }

    /// True when every budget fits or is tight.
    pub fn all_fit(&self) -> bool {
        self.budgets
            .iter()
            .all(|b| b.verdict != Verdict::DoesNotFit)
    }
}

fn opt(v: Option<u64>, f: fn(u64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

impl fmt::Display for FitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use quantity::{fmt_cpu, fmt_mem};
        writeln!(
            f,
            "{:<32} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
            "WORKLOAD", "REPLICAS", "CPU REQUESTS", "MEMORY REQUESTS", "CPU LIM", "MEM LIM"
        )?;
        for w in &self.workloads {
            let name = format!("{}/{}", w.kind.to_lowercase(), w.name);
            writeln!(
                f,
                "{:<32} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
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
            "{:<32} {:>8}  {:>18}  {:>22}  {:>10} {:>10}",
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
            "{:<12} {:<38} {:<40} {:<13} LIMITS CPU/MEM",
            "BUDGET", "CPU (requests)", "MEMORY (requests)", "VERDICT"
        )?;
        for b in &self.budgets {
            let pct = |r: Option<f64>| {
                r.map(|r| format!("{:.0}%", r * 100.0))
                    .unwrap_or_else(|| "-".into())
            };
            writeln!(
                f,
                "{:<12} {:<38} {:<40} {:<13} {}/{}",
                b.budget.name,
                format!(
                    "{} / {} = {:.1}% {}",
                    fmt_cpu(b.cpu.used),
                    fmt_cpu(b.cpu.budget),
                    b.cpu.ratio * 100.0,
                    b.cpu.verdict
                ),
                format!(
                    "{} / {} = {:.1}% {}",
                    fmt_mem(b.memory.used),
                    fmt_mem(b.memory.budget),
                    b.memory.ratio * 100.0,
                    b.memory.verdict
                ),
                b.verdict.to_string(),
                pct(b.cpu_limits_ratio),
                pct(b.memory_limits_ratio),
            )?;
        }
        Ok(())
    }
}

/// `redline fit`: reads the workloads (cluster or `--manifests`), prints the table (or JSON)
/// and returns the report. The caller picks the exit code (e.g. from [`FitReport::all_fit`]).
pub async fn run_fit(args: FitArgs) -> Result<FitReport, ChaosError> {
    let client = match args.manifests {
        Some(_) => None,
        None => Some(crate::kube_client().await?),
    };
    let report = fit_with(&args, client.as_ref()).await?;
    match args.output {
        Output::Table => print!("{report}"),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| FitError::Flags(e.to_string()))?
        ),
    }
    Ok(report)
}

/// The report without printing; `client` is used when no `--manifests` are given.
pub async fn fit_with(
    args: &FitArgs,
    client: Option<&kube::Client>,
) -> Result<FitReport, FitError> {
    if args.budgets.is_empty() {
        return Err(FitError::Flags(
            "give at least one --budget cpu=..,memory=..".into(),
        ));
    }
    if !(args.tight_above > 0.0 && args.tight_above <= args.does_not_fit_above) {
        return Err(FitError::Flags(
            "--tight-above must be above 0 and not above --does-not-fit-above".into(),
        ));
    }
    let all = match (&args.manifests, client) {
        (Some(path), _) => workloads::from_manifests(path, args.namespace.as_deref(), args.nodes)?,
        (None, Some(client)) => {
            let ns = args.namespace.as_deref().ok_or_else(|| {
                FitError::Flags("--namespace is required without --manifests".into())
            })?;
            workloads::from_cluster(client, ns, args.nodes).await?
        }
        (None, None) => {
            return Err(FitError::Flags(
                "no --manifests and no cluster client".into(),
            ));
        }
    };
    let chosen = workloads::select(all, &args.selector);
    Ok(FitReport::compute(
        chosen,
        &args.budgets,
        args.tight_above,
        args.does_not_fit_above,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        let b: Budget = "cpu=2,memory=4Gi".parse().unwrap();
        assert_eq!(
            b,
            Budget {
                name: "4Gi/2cpu".into(),
                cpu_millis: 2000,
                memory_bytes: 4 << 30
            }
        );
        let b: Budget = "cpu=3, memory=6Gi, name=vps-6g".parse().unwrap();
        assert_eq!(b.name, "vps-6g");
        assert!("cpu=2".parse::<Budget>().is_err());
        assert!("cpu=2,memory=4Gi,disk=1".parse::<Budget>().is_err());
        assert!("cpu=0,memory=4Gi".parse::<Budget>().is_err());
    }
}
