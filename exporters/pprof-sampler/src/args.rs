//! `redline pprof-sampler` flags: the runtime's common flags plus the sampler's own
//! ([`SamplerConfig`]), each also a `REDLINE_PPROF_*` environment variable. The sampler's
//! part is serde too, so a scenario file or `--print-config` can carry the same settings
//! the command line does.

use std::path::PathBuf;
use std::time::Duration;

use redline_runtime::CommonArgs;
use serde::{Deserialize, Serialize};

use crate::sampler::Target;

/// `redline pprof-sampler` flags: the runtime's common flags plus the sampler's.
#[derive(clap::Args, Debug, Clone)]
pub struct PprofSamplerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub sampler: SamplerConfig,
}

/// Where the profiles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `--target URL`, fixed for the run.
    Static(Vec<Target>),
    /// `--sidecar`: the container beside us, on localhost.
    Sidecar(Target),
    /// Pods matching namespace + label selector, followed with a watch.
    Discover,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PodResources {
    /// On when pods are discovered (a cluster is at hand), off otherwise.
    Auto,
    On,
    Off,
}

#[derive(clap::Args, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SamplerConfig {
    /// Profile URL to sample (repeatable). A URL without a path gets --path. Turns discovery off.
    #[arg(long = "target", env = "REDLINE_PPROF_TARGETS", value_delimiter = ',')]
    pub targets: Vec<String>,

    /// Sample the container beside this one on localhost:--port (run as a sidecar).
    #[arg(long, env = "REDLINE_PPROF_SIDECAR")]
    pub sidecar: bool,

    /// Pod name used as the `pod` label in sidecar mode (set it from the downward API).
    #[arg(long, env = "REDLINE_PPROF_POD_NAME")]
    pub pod_name: Option<String>,

    /// Namespace of the pods to discover (and of their PodMetrics).
    #[arg(
        long,
        env = "REDLINE_PPROF_NAMESPACE",
        default_value = "knative-serving"
    )]
    pub namespace: String,

    /// Label selector of the pods to discover.
    #[arg(long, env = "REDLINE_PPROF_SELECTOR", default_value = "app=activator")]
    pub selector: String,

    /// Profiling port of discovered pods (Knative: 8008).
    #[arg(long, env = "REDLINE_PPROF_PORT", default_value_t = 8008)]
    pub port: u16,

    /// Heap profile path.
    #[arg(long, env = "REDLINE_PPROF_PATH", default_value = "/debug/pprof/heap")]
    pub path: String,

    /// Goroutine profile path, read with ?debug=1 for its total.
    #[arg(
        long,
        env = "REDLINE_PPROF_GOROUTINE_PATH",
        default_value = "/debug/pprof/goroutine"
    )]
    pub goroutine_path: String,

    /// Do not read goroutine counts.
    #[arg(long, env = "REDLINE_PPROF_NO_GOROUTINES")]
    pub no_goroutines: bool,

    /// `container` label; by default the container that declares --port, else the first.
    #[arg(long, env = "REDLINE_PPROF_CONTAINER")]
    pub container: Option<String>,

    /// Time between samples of one target.
    #[arg(long, env = "REDLINE_PPROF_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub interval: Duration,

    /// Deadline of one fetch. A tick that finds the previous fetch of a target still
    /// running skips it (result="skipped"), so fetches never overlap.
    #[arg(long, env = "REDLINE_PPROF_TIMEOUT", default_value = "900ms", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,

    /// Fetch with ?gc=1 (a forced GC first) every N samples of a target; 0 never.
    #[arg(long, env = "REDLINE_PPROF_GC_EVERY", default_value_t = 0)]
    pub gc_every: u64,

    /// Functions kept per pod and kind in redline_pprof_top_inuse_bytes.
    #[arg(long, env = "REDLINE_PPROF_TOP", default_value_t = 5)]
    pub top: usize,

    /// Largest profile body accepted.
    #[arg(long, env = "REDLINE_PPROF_MAX_BODY_BYTES", default_value_t = 64 << 20)]
    pub max_body_bytes: u64,

    /// Save every raw heap profile here as <testid>-<unix>-<pod>-heap.pb.gz.
    #[arg(long, env = "REDLINE_PPROF_ARCHIVE_DIR")]
    pub archive_dir: Option<PathBuf>,

    /// Archive size cap; the oldest files go first.
    #[arg(long, env = "REDLINE_PPROF_ARCHIVE_MAX_BYTES", default_value_t = 1 << 30)]
    pub archive_max_bytes: u64,

    /// Archive file-count cap; the oldest files go first.
    #[arg(
        long,
        env = "REDLINE_PPROF_ARCHIVE_MAX_FILES",
        default_value_t = 10_000
    )]
    pub archive_max_files: usize,

    /// Read container CPU/memory (kubectl top) from metrics.k8s.io.
    #[arg(
        long,
        env = "REDLINE_PPROF_POD_RESOURCES",
        value_enum,
        default_value = "auto"
    )]
    pub pod_resources: PodResources,

    /// Label selector for PodMetrics; by default --selector.
    #[arg(long, env = "REDLINE_PPROF_RESOURCES_SELECTOR")]
    pub resources_selector: Option<String>,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            targets: Vec::new(),
            sidecar: false,
            pod_name: None,
            namespace: "knative-serving".into(),
            selector: "app=activator".into(),
            port: 8008,
            path: "/debug/pprof/heap".into(),
            goroutine_path: "/debug/pprof/goroutine".into(),
            no_goroutines: false,
            container: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(900),
            gc_every: 0,
            top: 5,
            max_body_bytes: 64 << 20,
            archive_dir: None,
            archive_max_bytes: 1 << 30,
            archive_max_files: 10_000,
            pod_resources: PodResources::Auto,
            resources_selector: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--target {0:?} is not an http(s) URL")]
    BadTarget(String),
    #[error("--target and --sidecar exclude each other")]
    TargetAndSidecar,
    #[error("--interval must be positive")]
    ZeroInterval,
}

impl SamplerConfig {
    pub fn mode(&self) -> Result<Mode, ConfigError> {
        if self.interval.is_zero() {
            return Err(ConfigError::ZeroInterval);
        }
        match (self.targets.is_empty(), self.sidecar) {
            (false, true) => Err(ConfigError::TargetAndSidecar),
            (false, false) => self
                .targets
                .iter()
                .map(|t| self.static_target(t))
                .collect::<Result<_, _>>()
                .map(Mode::Static),
            (true, true) => {
                let pod = self
                    .pod_name
                    .clone()
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .unwrap_or_else(|| "localhost".into());
                let base = format!("http://127.0.0.1:{}", self.port);
                Ok(Mode::Sidecar(Target {
                    pod,
                    container: self.container.clone().unwrap_or_default(),
                    heap_url: format!("{base}{}", self.path),
                    goroutine_url: self.goroutine_url(&base),
                }))
            }
            (true, false) => Ok(Mode::Discover),
        }
    }

    /// `http://host:port/path?query` → pod label `host:port`, heap URL as given (or with
    /// --path when it has none), goroutine URL on the same origin.
    fn static_target(&self, url: &str) -> Result<Target, ConfigError> {
        let bad = || ConfigError::BadTarget(url.to_string());
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad());
        }
        let origin = &url[..url.len() - path.len()];
        let heap_url = if path.is_empty() || path == "/" {
            format!("{origin}{}", self.path)
        } else {
            url.to_string()
        };
        Ok(Target {
            pod: authority.to_string(),
            container: self.container.clone().unwrap_or_default(),
            heap_url,
            goroutine_url: self.goroutine_url(origin),
        })
    }

    pub(crate) fn goroutine_url(&self, origin: &str) -> Option<String> {
        (!self.no_goroutines).then(|| format!("{origin}{}?debug=1", self.goroutine_path))
    }

    pub fn resources_enabled(&self, mode: &Mode) -> bool {
        match self.pod_resources {
            PodResources::On => true,
            PodResources::Off => false,
            PodResources::Auto => *mode == Mode::Discover,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn defaults_target_knative_activator_and_match_default_impl() {
        let cli = redline_runtime::parse_flags::<SamplerConfig>(&[]).unwrap();
        assert_eq!(cli, SamplerConfig::default());
        assert_eq!(cli.mode().unwrap(), Mode::Discover);
        assert_eq!(
            (cli.namespace.as_str(), cli.selector.as_str(), cli.port),
            ("knative-serving", "app=activator", 8008)
        );
        assert!(cli.resources_enabled(&Mode::Discover));
    }

    #[test]
    fn static_targets_get_default_path_and_goroutine_url() {
        let cli = redline_runtime::parse_flags::<SamplerConfig>(&[
            "--target",
            "http://127.0.0.1:9090",
            "--target",
            "http://h:1/custom/heap?seconds=1",
            "--interval",
            "250ms",
        ])
        .unwrap();
        let Mode::Static(t) = cli.mode().unwrap() else {
            panic!()
        };
        assert_eq!(t[0].pod, "127.0.0.1:9090");
        assert_eq!(t[0].heap_url, "http://127.0.0.1:9090/debug/pprof/heap");
        assert_eq!(
            t[0].goroutine_url.as_deref(),
            Some("http://127.0.0.1:9090/debug/pprof/goroutine?debug=1")
        );
        assert_eq!(t[1].heap_url, "http://h:1/custom/heap?seconds=1");
        assert_eq!(cli.interval, Duration::from_millis(250));
        assert!(!cli.resources_enabled(&Mode::Static(t)));
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        let mut c = SamplerConfig {
            targets: vec!["ftp://x".into()],
            ..Default::default()
        };
        assert!(matches!(c.mode(), Err(ConfigError::BadTarget(_))));
        c.targets = vec!["http://x:1".into()];
        c.sidecar = true;
        assert_eq!(c.mode(), Err(ConfigError::TargetAndSidecar));
        c.targets.clear();
        c.pod_name = Some("activator-0".into());
        let Mode::Sidecar(t) = c.mode().unwrap() else {
            panic!()
        };
        assert_eq!(t.heap_url, "http://127.0.0.1:8008/debug/pprof/heap");
        assert_eq!(t.pod, "activator-0");
    }

    #[test]
    fn serde_round_trips_with_humantime_durations() {
        let c = SamplerConfig {
            gc_every: 10,
            timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""timeout":"500ms""#), "{json}");
        assert_eq!(serde_json::from_str::<SamplerConfig>(&json).unwrap(), c);
        let partial: SamplerConfig = serde_json::from_str(r#"{"interval":"2s"}"#).unwrap();
        assert_eq!(partial.interval, Duration::from_secs(2));
        assert!(serde_json::from_str::<SamplerConfig>(r#"{"intervall":"2s"}"#).is_err());
    }

    #[derive(Parser)]
    struct DaemonCli {
        #[command(flatten)]
        args: PprofSamplerArgs,
    }

    #[test]
    fn sampler_flags_do_not_collide_with_the_runtime_flags() {
        // clap's debug_assert panics on duplicate flags or env names.
        DaemonCli::command().debug_assert();
        let cli = DaemonCli::try_parse_from([
            "pprof-sampler",
            "--testid",
            "run7",
            "--target",
            "http://127.0.0.1:8008",
            "--archive-dir",
            "/tmp/heap",
            "--gc-every",
            "10",
        ])
        .unwrap();
        assert_eq!(cli.args.common.testid.as_deref(), Some("run7"));
        assert_eq!(cli.args.sampler.gc_every, 10);
        assert!(matches!(cli.args.sampler.mode(), Ok(Mode::Static(t)) if t.len() == 1));
    }
}
