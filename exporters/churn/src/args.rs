//! Command-line flags (each also a `REDLINE_CHURN_*` environment variable) and their
//! validation into a [`Plan`](crate::timeline::Plan).

use std::path::PathBuf;
use std::time::Duration;

use redline_runtime::{CommonArgs, parse_key_value};

use crate::ChurnError;
use crate::timeline::{Pattern, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PatternName {
    /// Fixed topology: `--endpoints-per-service` replicas, no changes.
    Stable,
    /// Autoscaler: hold min, jump to max, hold max, drop to min, repeat.
    Oscillate,
    /// One-way gradual ramp `--scale-from` -> `--scale-to` over `--scale-duration`.
    ScaleUp,
    /// Staircase min -> max -> min in `--rolling-step` steps every `--step-interval`.
    Rolling,
    /// Short instant jump to `--spike-to` and back, every `--spike-interval`.
    Spike,
}

impl PatternName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Oscillate => "oscillate",
            Self::ScaleUp => "scale-up",
            Self::Rolling => "rolling",
            Self::Spike => "spike",
        }
    }
}

fn duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

#[derive(Debug, Clone, clap::Args)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Namespace the Services and Deployments are created in.
    #[arg(long, env = "REDLINE_CHURN_NAMESPACE", default_value = "test-load")]
    pub namespace: String,
    /// Create the namespace if it is missing (needs cluster-scoped RBAC).
    #[arg(long, env = "REDLINE_CHURN_CREATE_NAMESPACE")]
    pub create_namespace: bool,
    /// Number of services (`<prefix>-1` .. `<prefix>-N`).
    #[arg(long, env = "REDLINE_CHURN_SERVICES", default_value_t = 10)]
    pub services: u32,
    #[arg(
        long,
        env = "REDLINE_CHURN_SERVICE_PREFIX",
        default_value = "test-service"
    )]
    pub service_prefix: String,
    /// Service port (named `http`; pods listen on the same port).
    #[arg(long, env = "REDLINE_CHURN_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Replicas of the `stable` pattern and the base of `spike`.
    #[arg(
        long,
        env = "REDLINE_CHURN_ENDPOINTS_PER_SERVICE",
        default_value_t = 100
    )]
    pub endpoints_per_service: u32,
    #[arg(long, env = "REDLINE_CHURN_PATTERN", value_enum, default_value_t = PatternName::Stable)]
    pub pattern: PatternName,
    /// Stop after this long (default: when the pattern ends, or on SIGTERM).
    #[arg(long, env = "REDLINE_CHURN_DURATION", value_parser = duration)]
    pub duration: Option<Duration>,
    /// Stop after this many complete cycles (oscillate, rolling, spike).
    #[arg(long, env = "REDLINE_CHURN_CYCLES")]
    pub cycles: Option<u32>,

    #[arg(long, env = "REDLINE_CHURN_MIN_ENDPOINTS", default_value_t = 10)]
    pub min_endpoints: u32,
    #[arg(long, env = "REDLINE_CHURN_MAX_ENDPOINTS", default_value_t = 200)]
    pub max_endpoints: u32,
    /// Time at min endpoints (oscillate; also before the first scale-up).
    #[arg(long, env = "REDLINE_CHURN_MIN_HOLD", default_value = "2m", value_parser = duration)]
    pub min_hold: Duration,
    /// Time at max endpoints (oscillate).
    #[arg(long, env = "REDLINE_CHURN_MAX_HOLD", default_value = "5m", value_parser = duration)]
    pub max_hold: Duration,
    /// Each service waits a seeded random 0..=jitter (ms resolution) before each scale.
    #[arg(long, env = "REDLINE_CHURN_JITTER", default_value = "0s", value_parser = duration)]
    pub jitter: Duration,

    #[arg(long, env = "REDLINE_CHURN_SCALE_FROM", default_value_t = 10)]
    pub scale_from: u32,
    #[arg(long, env = "REDLINE_CHURN_SCALE_TO", default_value_t = 200)]
    pub scale_to: u32,
    #[arg(long, env = "REDLINE_CHURN_SCALE_DURATION", default_value = "30s", value_parser = duration)]
    pub scale_duration: Duration,
    /// Equal steps the scale-up ramp is cut into.
    #[arg(long, env = "REDLINE_CHURN_SCALE_STEPS", default_value_t = 10)]
    pub scale_steps: u32,

    /// Replicas added or removed per rolling step.
    #[arg(long, env = "REDLINE_CHURN_ROLLING_STEP", default_value_t = 10)]
    pub rolling_step: u32,
    #[arg(long, env = "REDLINE_CHURN_STEP_INTERVAL", default_value = "10s", value_parser = duration)]
    pub step_interval: Duration,

    #[arg(long, env = "REDLINE_CHURN_SPIKE_TO", default_value_t = 200)]
    pub spike_to: u32,
    /// Time at `--spike-to` per spike.
    #[arg(long, env = "REDLINE_CHURN_SPIKE_HOLD", default_value = "30s", value_parser = duration)]
    pub spike_hold: Duration,
    /// Time at the base between spikes (and before the first).
    #[arg(long, env = "REDLINE_CHURN_SPIKE_INTERVAL", default_value = "2m", value_parser = duration)]
    pub spike_interval: Duration,

    /// Services per batch; batches scale `--batch-interval` apart (0: one batch of all).
    #[arg(long, env = "REDLINE_CHURN_BATCH_SIZE", default_value_t = 0)]
    pub batch_size: u32,
    #[arg(long, env = "REDLINE_CHURN_BATCH_INTERVAL", default_value = "0s", value_parser = duration)]
    pub batch_interval: Duration,
    /// Seed of the jitter; the same flags and seed give the same timeline.
    #[arg(long, env = "REDLINE_CHURN_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Client-side API request rate limit (token bucket refill per second).
    #[arg(long, env = "REDLINE_CHURN_QPS", default_value_t = 20.0)]
    pub qps: f64,
    /// Token bucket size: requests allowed at once before `--qps` applies.
    #[arg(long, env = "REDLINE_CHURN_BURST", default_value_t = 50)]
    pub burst: u32,
    /// Retries of one API call on 409, 429, 5xx and transport errors.
    #[arg(long, env = "REDLINE_CHURN_MAX_RETRIES", default_value_t = 8)]
    pub max_retries: u32,

    /// Node selector of the pods, key=value (repeatable).
    #[arg(long = "node-selector", env = "REDLINE_CHURN_NODE_SELECTOR", value_delimiter = ',', value_parser = parse_key_value, default_value = "type=kwok")]
    pub node_selector: Vec<(String, String)>,
    /// Taint keys the pods tolerate (operator Exists, effect NoSchedule; repeatable).
    #[arg(
        long = "toleration",
        env = "REDLINE_CHURN_TOLERATIONS",
        value_delimiter = ',',
        default_value = "kwok.x-k8s.io/node"
    )]
    pub tolerations: Vec<String>,
    /// Extra label on every Service, key=value (repeatable), e.g.
    /// mirror.linkerd.io/exported=remote-discovery for Linkerd multicluster.
    #[arg(long = "service-label", env = "REDLINE_CHURN_SERVICE_LABELS", value_delimiter = ',', value_parser = parse_key_value)]
    pub service_labels: Vec<(String, String)>,
    #[arg(long, env = "REDLINE_CHURN_IMAGE", default_value = "fake-image")]
    pub image: String,

    /// Kubeconfig to use (default: in-cluster, then $KUBECONFIG / ~/.kube/config).
    #[arg(long, env = "REDLINE_CHURN_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Value of the `redline.dev/run` label (default: the testid).
    #[arg(long, env = "REDLINE_CHURN_RUN_ID")]
    pub run_id: Option<String>,
    /// Only delete what a run with this run id created, then exit.
    #[arg(long, env = "REDLINE_CHURN_CLEANUP")]
    pub cleanup: bool,
    /// Leave the Services and Deployments in place on exit.
    #[arg(long, env = "REDLINE_CHURN_KEEP")]
    pub keep: bool,
}

impl ChurnArgs {
    /// Defaults as the command line gives them, for tests and embedding.
    pub fn with_common(common: CommonArgs) -> Self {
        let mut cli = redline_runtime::parse_flags::<ChurnArgs>(&[]).expect("the defaults parse");
        cli.common = common;
        cli
    }

    /// The pure part of the flags: what to scale and when.
    pub fn plan(&self) -> Result<Plan, ChurnError> {
        let bad = |flag: &'static str, message: String| ChurnError::Flag { flag, message };
        let at_least_one = |flag: &'static str, n: u32| match n {
            0 => Err(bad(flag, "must be at least 1".into())),
            _ => Ok(()),
        };
        at_least_one("--services", self.services)?;
        if !(self.qps > 0.0 && self.qps.is_finite()) {
            return Err(bad("--qps", format!("{} is not a positive rate", self.qps)));
        }
        at_least_one("--burst", self.burst)?;
        let pattern = match self.pattern {
            PatternName::Stable => Pattern::Stable {
                replicas: self.endpoints_per_service,
            },
            PatternName::Oscillate => {
                if self.min_endpoints > self.max_endpoints {
                    return Err(bad(
                        "--min-endpoints",
                        format!(
                            "{} is above --max-endpoints {}",
                            self.min_endpoints, self.max_endpoints
                        ),
                    ));
                }
                Pattern::Oscillate {
                    min: self.min_endpoints,
                    max: self.max_endpoints,
                    min_hold: self.min_hold,
                    max_hold: self.max_hold,
                }
            }
            PatternName::ScaleUp => {
                at_least_one("--scale-steps", self.scale_steps)?;
                Pattern::ScaleUp {
                    from: self.scale_from,
                    to: self.scale_to,
                    over: self.scale_duration,
                    steps: self.scale_steps,
                }
            }
            PatternName::Rolling => {
                at_least_one("--rolling-step", self.rolling_step)?;
                if self.min_endpoints >= self.max_endpoints {
                    return Err(bad(
                        "--min-endpoints",
                        format!(
                            "rolling needs --min-endpoints ({}) below --max-endpoints ({})",
                            self.min_endpoints, self.max_endpoints
                        ),
                    ));
                }
                Pattern::Rolling {
                    min: self.min_endpoints,
                    max: self.max_endpoints,
                    step: self.rolling_step,
                    interval: self.step_interval,
                }
            }
            PatternName::Spike => Pattern::Spike {
                base: self.endpoints_per_service,
                peak: self.spike_to,
                interval: self.spike_interval,
                hold: self.spike_hold,
            },
        };
        Plan::new(
            pattern,
            self.services,
            self.cycles,
            self.duration,
            self.jitter,
            self.batch_size,
            self.batch_interval,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_flags_parse() {
        let cli = redline_runtime::parse_flags::<ChurnArgs>(&[
            "--services=10",
            "--pattern=oscillate",
            "--min-endpoints=10",
            "--max-endpoints=200",
            "--min-hold=2m",
            "--max-hold=5m",
            "--jitter=5s",
            "--cycles=3",
        ])
        .unwrap();
        let a = cli;
        assert_eq!(a.pattern, PatternName::Oscillate);
        assert_eq!(a.jitter, Duration::from_secs(5));
        assert_eq!(a.node_selector, [("type".to_string(), "kwok".to_string())]);
        assert_eq!(a.tolerations, ["kwok.x-k8s.io/node"]);
        assert!(a.plan().is_ok());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let mut a = ChurnArgs::with_common(CommonArgs::default());
        a.pattern = PatternName::Oscillate;
        a.min_endpoints = 300;
        let e = a.plan().unwrap_err().to_string();
        assert!(e.contains("--min-endpoints"), "{e}");
        a.min_endpoints = 10;
        a.jitter = Duration::from_secs(600);
        let e = a.plan().unwrap_err().to_string();
        assert!(e.contains("--jitter"), "{e}");
    }
}
