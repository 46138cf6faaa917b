//! Flags of `redline fit`. Every flag is also a `REDLINE_FIT_*` environment variable (the
//! runtime's shared flags keep their `REDLINE_*` names); they matter only with `--watch`.

use std::path::PathBuf;
use std::time::Duration;

use kube::core::Selector;
use redline_runtime::CommonArgs;

use crate::budget::{Budget, SEED_BUDGETS};
use crate::report::Thresholds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

#[derive(Debug, Clone, clap::Args)]
pub struct FitArgs {
    /// Used with --watch: remote-write, push interval, testid, admin server.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Namespace whose workloads are summed. Default: the kubeconfig's current namespace
    /// (as kubectl), for --manifests too; manifest objects without a namespace always count.
    #[arg(short = 'n', long, env = "REDLINE_FIT_NAMESPACE")]
    pub namespace: Option<String>,

    /// Count every namespace, DaemonSets of kube-system included.
    #[arg(
        short = 'A',
        long,
        env = "REDLINE_FIT_ALL_NAMESPACES",
        conflicts_with = "namespace"
    )]
    pub all_namespaces: bool,

    /// Read workloads from these manifests (a file or a directory of .yaml/.yml/.json)
    /// instead of the cluster.
    #[arg(long, env = "REDLINE_FIT_MANIFESTS")]
    pub manifests: Option<PathBuf>,

    /// A budget, `NAME=CPU,MEMORY` (vps-4g=2cpu,4Gi) or `cpu=2,memory=4Gi[,name=vps-4g]`
    /// (repeatable; `;` separates several in the variable). Default: the seed's small VPS.
    #[arg(
        long = "budget",
        env = "REDLINE_FIT_BUDGETS",
        value_delimiter = ';',
        default_value = SEED_BUDGETS
    )]
    pub budgets: Vec<Budget>,

    /// Only workloads whose labels match, e.g. 'app.kubernetes.io/part-of!=monitoring'
    /// (the seed's lesson: monitoring must not eat the application's budget). Usage then
    /// counts only their pods.
    #[arg(long, env = "REDLINE_FIT_SELECTOR", value_parser = crate::selector::parse, default_value = "")]
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

    /// Keep running while a test runs: every --interval read requests, limits and actual
    /// usage (metrics.k8s.io) and write redline_fit_budget_ratio, until --duration or
    /// SIGTERM. Reads the cluster, not --manifests.
    #[arg(long, env = "REDLINE_FIT_WATCH", conflicts_with = "manifests")]
    pub watch: bool,

    /// How often --watch reads (metrics-server's own resolution is 15 s).
    #[arg(long, env = "REDLINE_FIT_INTERVAL", value_parser = duration, default_value = "15s")]
    pub interval: Duration,

    /// How long --watch runs at most.
    #[arg(long, env = "REDLINE_FIT_DURATION", value_parser = duration, default_value = "1h")]
    pub duration: Duration,
}

impl FitArgs {
    /// Defaults, as the command line gives them, with the runtime's test defaults
    /// (loopback admin server, no remote-write).
    pub fn defaults() -> Self {
        let mut args = redline_runtime::parse_flags::<FitArgs>(&[]).expect("defaults parse");
        args.common = CommonArgs::default();
        args
    }

    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            tight_above: self.tight_above,
            does_not_fit_above: self.does_not_fit_above,
        }
    }

    /// Checks what clap cannot: combinations and bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.budgets.is_empty() {
            return Err("give at least one --budget NAME=CPU,MEMORY".into());
        }
        if !(self.tight_above > 0.0 && self.tight_above <= self.does_not_fit_above) {
            return Err("--tight-above must be above 0 and not above --does-not-fit-above".into());
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err("--namespace must not be empty".into());
        }
        if self.watch && self.manifests.is_some() {
            return Err("--watch reads the cluster; it cannot be combined with --manifests".into());
        }
        if self.interval < Duration::from_secs(1) {
            return Err("--interval must be at least 1s".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be above zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<FitArgs, clap::Error> {
        redline_runtime::parse_flags::<FitArgs>(flags)
    }

    #[test]
    fn flags_parse_with_the_seed_budgets_as_defaults() {
        if std::env::vars().any(|(k, _)| k.starts_with("REDLINE_")) {
            return;
        }
        let a = parse(&[]).unwrap();
        let names: Vec<&str> = a.budgets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["vps-4g-2cpu", "vps-6g-3cpu"]);
        assert!(a.selector.selects_all());
        assert_eq!(
            (a.namespace.as_deref(), a.all_namespaces, a.watch),
            (None, false, false)
        );
        a.validate().unwrap_or_else(|e| panic!("{e}"));

        let a = parse(&[
            "-n",
            "shop",
            "--budget",
            "small=1,2Gi",
            "--budget",
            "cpu=3,memory=6Gi",
            "--selector",
            "tier!=monitoring",
            "--watch",
            "--interval",
            "5s",
        ])
        .unwrap();
        assert_eq!(a.namespace.as_deref(), Some("shop"));
        assert_eq!(a.budgets.len(), 2);
        assert_eq!(a.budgets[0].name, "small");
        assert_eq!(a.selector.to_string(), "tier!=monitoring");
        assert_eq!(a.interval, Duration::from_secs(5));
        a.validate().unwrap();

        assert!(parse(&["-n", "shop", "--all-namespaces"]).is_err());
        assert!(parse(&["--watch", "--manifests", "x.yaml"]).is_err());
        assert!(parse(&["--budget", "vps=2cpu"]).is_err());
        assert!(parse(&["--selector", "a in b"]).is_err());
        let mut a = FitArgs::defaults();
        a.tight_above = 2.0;
        assert!(a.validate().unwrap_err().contains("--tight-above"));
        let mut a = FitArgs::defaults();
        a.interval = Duration::from_millis(10);
        assert!(a.validate().unwrap_err().contains("--interval"));
    }
}
