//! Flags of `redline chaos`. Every flag is also a `REDLINE_CHAOS_*` environment variable.

use std::time::Duration;

use redline_runtime::{CommonArgs, parse_key_value};

use crate::data::RequestTemplate;
use crate::faults::pod_kill::Pick;
use crate::probe::{ProbeSpec, StatusRange};
use crate::selector::Selector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// Delete pods (hard with --grace-period 0).
    PodKill,
    /// Cordon a node, evict its pods in scope, hold, uncordon.
    NodeDrain,
    /// NetworkPolicies cutting --partition-a from --partition-b for --hold.
    Partition,
}

impl FaultKind {
    /// The `fault` label when `--fault-label` is not given (names `alerts/thresholds.yml` knows).
    pub fn default_label(self) -> &'static str {
        match self {
            Self::PodKill => "pod-kill",
            Self::NodeDrain => "node-drain",
            Self::Partition => "network-partition",
        }
    }
}

pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

fn selector(s: &str) -> Result<Selector, String> {
    s.parse()
}

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// The only namespace the run touches.
    #[arg(long, env = "REDLINE_CHAOS_NAMESPACE")]
    pub namespace: String,

    #[arg(long, env = "REDLINE_CHAOS_FAULT", value_enum)]
    pub fault: FaultKind,

    /// Value of the `fault` label on every series (e.g. db-failover, cache-failover for a
    /// pod-kill of a database or cache primary, which the shipped thresholds judge at 30 s).
    #[arg(long, env = "REDLINE_CHAOS_FAULT_LABEL")]
    pub fault_label: Option<String>,

    /// Label selector of the pods in scope (pod-kill victims, drained pods).
    #[arg(long, env = "REDLINE_CHAOS_SELECTOR", value_parser = selector, default_value = "")]
    pub selector: Selector,

    #[arg(long, env = "REDLINE_CHAOS_PICK", value_enum, default_value_t = Pick::Random)]
    pub pick: Pick,

    /// Label of the pod `--pick role` kills, e.g. role=master (an HA database's primary).
    #[arg(long, env = "REDLINE_CHAOS_ROLE_LABEL", value_parser = parse_key_value, default_value = "role=master")]
    pub role_label: (String, String),

    /// Pods killed per fault.
    #[arg(long, env = "REDLINE_CHAOS_COUNT", default_value_t = 1)]
    pub count: usize,

    /// Deletion grace period in seconds; 0 is a hard kill. Unset: the pod's own.
    #[arg(long, env = "REDLINE_CHAOS_GRACE_PERIOD")]
    pub grace_period: Option<u32>,

    /// Node to drain (it must carry the opt-in label). Unset: a random opted-in node
    /// running a pod in scope.
    #[arg(long, env = "REDLINE_CHAOS_NODE")]
    pub node: Option<String>,

    /// How long a drained node stays cordoned, or a partition stays in place.
    #[arg(long, env = "REDLINE_CHAOS_HOLD", value_parser = duration, default_value = "30s")]
    pub hold: Duration,

    /// One side of a partition (label selector, inside --namespace).
    #[arg(long, env = "REDLINE_CHAOS_PARTITION_A", value_parser = selector)]
    pub partition_a: Option<Selector>,

    /// The other side of a partition.
    #[arg(long, env = "REDLINE_CHAOS_PARTITION_B", value_parser = selector)]
    pub partition_b: Option<Selector>,

    /// Inject a fault every interval (plus jitter) for --duration. Unset: once.
    #[arg(long, env = "REDLINE_CHAOS_EVERY", value_parser = duration)]
    pub every: Option<Duration>,

    /// Random delay added to each scheduled fault, from 0 to this (seeded).
    #[arg(long, env = "REDLINE_CHAOS_JITTER", value_parser = duration, default_value = "0s")]
    pub jitter: Duration,

    /// How long a scheduled run injects faults.
    #[arg(long, env = "REDLINE_CHAOS_DURATION", value_parser = duration, default_value = "10m")]
    pub duration: Duration,

    /// Seed of the jitter and of random picks: the same seed replays the same run.
    #[arg(long, env = "REDLINE_CHAOS_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Most faults one run injects.
    #[arg(long, env = "REDLINE_CHAOS_MAX_FAULTS", default_value_t = 10)]
    pub max_faults: u32,

    /// Print what would be done and change nothing.
    #[arg(long, env = "REDLINE_CHAOS_DRY_RUN")]
    pub dry_run: bool,

    /// Only pods (and nodes) carrying this label are touched.
    #[arg(long, env = "REDLINE_CHAOS_OPT_IN_LABEL", value_parser = parse_key_value, default_value = "redline.dev/chaos=enabled")]
    pub opt_in_label: (String, String),

    /// Touch objects without the opt-in label too.
    #[arg(long, env = "REDLINE_CHAOS_IGNORE_OPT_IN")]
    pub ignore_opt_in: bool,

    /// User-visible probe, `[name=]http(s)://...` or `[name=]tcp://host:port` (repeatable).
    #[arg(long = "probe", env = "REDLINE_CHAOS_PROBES", value_delimiter = ',')]
    pub probes: Vec<ProbeSpec>,

    /// HTTP statuses a probe accepts, e.g. 200 or 200-399.
    #[arg(long, env = "REDLINE_CHAOS_PROBE_EXPECT", default_value = "200-399")]
    pub probe_expect: StatusRange,

    #[arg(long, env = "REDLINE_CHAOS_PROBE_INTERVAL", value_parser = duration, default_value = "100ms")]
    pub probe_interval: Duration,

    #[arg(long, env = "REDLINE_CHAOS_PROBE_TIMEOUT", value_parser = duration, default_value = "1s")]
    pub probe_timeout: Duration,

    /// Consecutive good probes that end an interruption.
    #[arg(long, env = "REDLINE_CHAOS_PROBE_SUCCESSES", default_value_t = 3)]
    pub probe_successes: u32,

    /// Data check write, e.g. 'PUT http://app/kv/{seq}' ({run} is this run's id).
    #[arg(long, env = "REDLINE_CHAOS_WRITE", requires = "read")]
    pub write: Option<RequestTemplate>,

    /// Data check read-back, e.g. 'GET http://app/kv/{seq}'.
    #[arg(long, env = "REDLINE_CHAOS_READ", requires = "write")]
    pub read: Option<RequestTemplate>,

    /// Body of each write, with {run}, {seq} and {value} (the value the read must show),
    /// e.g. '{"key":"{run}-{seq}","value":"{value}"}'. Default: the value itself.
    #[arg(long, env = "REDLINE_CHAOS_WRITE_BODY", requires = "write")]
    pub write_body: Option<String>,

    /// Header of each write, e.g. Content-Type=application/json (repeatable).
    #[arg(long = "write-header", env = "REDLINE_CHAOS_WRITE_HEADERS", value_parser = parse_key_value, value_delimiter = ',', requires = "write")]
    pub write_headers: Vec<(String, String)>,

    /// Text the read-back's body must contain, with the same placeholders, e.g.
    /// '"value":"{value}"'. Default: the body must equal the value.
    #[arg(long, env = "REDLINE_CHAOS_READ_EXPECT", requires = "read")]
    pub read_expect: Option<String>,

    /// Session persistence: send the cookies each write's answer set with its read-back
    /// (a session kept in Redis must survive the failover).
    #[arg(long, env = "REDLINE_CHAOS_DATA_SESSION", requires = "write")]
    pub data_session: bool,

    #[arg(long, env = "REDLINE_CHAOS_WRITE_INTERVAL", value_parser = duration, default_value = "100ms")]
    pub write_interval: Duration,

    /// The writer stops after this many acknowledged writes.
    #[arg(long, env = "REDLINE_CHAOS_MAX_WRITES", default_value_t = 100_000)]
    pub max_writes: u64,

    /// Longest wait for a fault to recover before it is reported as not recovered.
    #[arg(long, env = "REDLINE_CHAOS_RECOVERY_TIMEOUT", value_parser = duration, default_value = "5m")]
    pub recovery_timeout: Duration,

    /// How often the workload and endpoints clocks look.
    #[arg(long, env = "REDLINE_CHAOS_RECOVERY_POLL", value_parser = duration, default_value = "100ms")]
    pub recovery_poll: Duration,

    /// First wait after a refused eviction; doubles up to 30 s.
    #[arg(long, env = "REDLINE_CHAOS_EVICT_BACKOFF", value_parser = duration, default_value = "1s")]
    pub evict_backoff: Duration,

    /// How long refused evictions are retried before the drain goes on without them.
    #[arg(long, env = "REDLINE_CHAOS_EVICT_TIMEOUT", value_parser = duration, default_value = "2m")]
    pub evict_timeout: Duration,
}

impl ChaosArgs {
    /// Defaults for a fault in a namespace, as the command line would give them.
    pub fn new(namespace: &str, fault: FaultKind) -> Self {
        let fault = match fault {
            FaultKind::PodKill => "pod-kill",
            FaultKind::NodeDrain => "node-drain",
            FaultKind::Partition => "partition",
        };
        let mut args = redline_runtime::parse_flags::<ChaosArgs>(&[
            "--namespace",
            namespace,
            "--fault",
            fault,
        ])
        .expect("defaults parse");
        args.common = CommonArgs::default();
        args
    }

    pub fn fault_label(&self) -> String {
        self.fault_label
            .clone()
            .unwrap_or_else(|| self.fault.default_label().to_string())
    }

    /// Checks what clap cannot: combinations and bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.namespace.trim().is_empty() {
            return Err("--namespace must not be empty".into());
        }
        if self.fault == FaultKind::Partition
            && (self.partition_a.is_none() || self.partition_b.is_none())
        {
            return Err("--fault partition needs --partition-a and --partition-b".into());
        }
        if self.count == 0 {
            return Err("--count must be at least 1".into());
        }
        if self.probe_interval < Duration::from_millis(10) {
            return Err("--probe-interval must be at least 10ms".into());
        }
        if self.probe_timeout.is_zero() {
            return Err("--probe-timeout must be above zero".into());
        }
        if self.every.is_some_and(|e| e.is_zero()) {
            return Err("--every must be above zero".into());
        }
        if self.recovery_poll.is_zero() {
            return Err("--recovery-poll must be above zero".into());
        }
        if let Some(read) = &self.read
            && !read.names_the_write()
            && !self.data_session
        {
            return Err(
                "--read needs {seq} or {value} in its URL to read each write back (or --data-session, where each write's cookie names it)"
                    .into(),
            );
        }
        if self.max_faults == 0 {
            return Err("--max-faults must be at least 1".into());
        }
        Ok(())
    }

    pub fn opt_in(&self) -> Option<(String, String)> {
        (!self.ignore_opt_in).then(|| self.opt_in_label.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_seed_defaults() {
        if std::env::vars().any(|(k, _)| k.starts_with("REDLINE_")) {
            return;
        }
        let a = redline_runtime::parse_flags::<ChaosArgs>(&[
            "--namespace",
            "shop",
            "--fault",
            "pod-kill",
            "--selector",
            "app=django",
            "--probe",
            "web=http://nginx/",
            "--probe",
            "tcp://postgres:5432",
            "--write",
            "PUT http://app/kv/{seq}",
            "--read",
            "GET http://app/kv/{seq}",
            "--every",
            "1m",
            "--jitter",
            "10s",
        ])
        .unwrap();
        assert_eq!(a.probe_interval, Duration::from_millis(100));
        assert_eq!(a.probes.len(), 2);
        assert_eq!(a.fault_label(), "pod-kill");
        assert_eq!(
            a.opt_in(),
            Some(("redline.dev/chaos".into(), "enabled".into()))
        );
        assert_eq!(a.selector.to_string(), "app=django");
        a.validate().unwrap();
        assert!(
            redline_runtime::parse_flags::<ChaosArgs>(&[
                "--namespace",
                "x",
                "--fault",
                "pod-kill",
                "--write",
                "PUT http://a/{seq}"
            ])
            .is_err(),
            "--write needs --read"
        );
        let mut r = a.clone();
        r.read = Some("GET http://app/cart/".parse().unwrap());
        assert!(r.validate().unwrap_err().contains("--read needs {seq}"));
        r.data_session = true;
        r.validate().unwrap();
        let p = ChaosArgs::new("x", FaultKind::Partition);
        assert!(p.validate().unwrap_err().contains("--partition-a"));
    }
}
