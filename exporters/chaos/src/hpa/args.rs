//! Flags of `redline hpa-watch`. Every flag is also a `REDLINE_HPA_*` environment variable.

use std::time::Duration;

use redline_runtime::CommonArgs;

use crate::args::duration;

#[derive(Debug, Clone, clap::Args)]
pub struct HpaWatchArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Namespace of the HorizontalPodAutoscaler (and of its target and the load Job).
    #[arg(long, env = "REDLINE_HPA_NAMESPACE")]
    pub namespace: String,

    /// The HorizontalPodAutoscaler to time; its scaleTargetRef (a Deployment or a
    /// StatefulSet) is the workload whose replicas are counted.
    #[arg(long, env = "REDLINE_HPA_NAME")]
    pub hpa: String,

    /// The Job that runs the load (e.g. the release's http-load Job): the clocks start at
    /// its status.startTime and the watch ends `--linger` after it finished. Unset: the
    /// clocks start when the watcher starts, and it runs for `--duration` or until stopped.
    #[arg(long, env = "REDLINE_HPA_LOAD_JOB")]
    pub load_job: Option<String>,

    /// How often the HPA, its target and the target's pods are read.
    #[arg(long, env = "REDLINE_HPA_POLL", value_parser = duration, default_value = "1s")]
    pub poll: Duration,

    /// Longest watch, from the watcher's start (waiting for the load included).
    #[arg(long, env = "REDLINE_HPA_DURATION", value_parser = duration, default_value = "30m")]
    pub duration: Duration,

    /// How long the watch goes on after the load Job finished, so that the rules see the
    /// load's end (`redline_hpa_load_running` 0) before the series go stale.
    #[arg(long, env = "REDLINE_HPA_LINGER", value_parser = duration, default_value = "45s")]
    pub linger: Duration,
}

impl HpaWatchArgs {
    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.namespace.trim().is_empty() {
            return Err("--namespace must not be empty".into());
        }
        if self.hpa.trim().is_empty() {
            return Err("--hpa must not be empty".into());
        }
        if self.poll < Duration::from_millis(100) {
            return Err("--poll must be at least 100ms".into());
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

    #[test]
    fn flags_parse_and_bounds_are_checked() {
        if std::env::vars().any(|(k, _)| k.starts_with("REDLINE_")) {
            return;
        }
        let a = redline_runtime::parse_flags::<HpaWatchArgs>(&[
            "--namespace",
            "user-1",
            "--hpa",
            "kubeserve",
            "--load-job",
            "redline-http-load",
        ])
        .unwrap();
        assert_eq!(a.poll, Duration::from_secs(1));
        assert_eq!(a.linger, Duration::from_secs(45));
        assert_eq!(a.load_job.as_deref(), Some("redline-http-load"));
        a.validate().unwrap();
        let mut b = a.clone();
        b.poll = Duration::from_millis(10);
        assert!(b.validate().unwrap_err().contains("--poll"));
        b = a;
        b.hpa = " ".into();
        assert!(b.validate().unwrap_err().contains("--hpa"));
    }
}
