//! Command-line flags; each is also an environment variable (`REDLINE_DST_*`, and the
//! downward-API variables `POD_NAMESPACE`, `POD_NAME`, `NODE_NAME` for the context token).

use std::path::PathBuf;
use std::time::Duration;

use redline_runtime::CommonArgs;

use crate::DstClientError;
use crate::expand::expand;

fn duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

#[derive(Debug, Clone, clap::Args)]
pub struct DstClientArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Destination controller, host:port or http://host:port.
    #[arg(
        long,
        env = "REDLINE_DST_DESTINATION",
        default_value = "linkerd-dst-headless.linkerd.svc.cluster.local:8086"
    )]
    pub destination: String,
    /// Services to resolve, `<svc>.<ns>.svc.<domain>:<port>`, with brace expansion
    /// (`test-service-{1..10}.test-load.svc.cluster.local:8080`); repeatable, or
    /// comma-separated outside braces.
    #[arg(long = "services", env = "REDLINE_DST_SERVICES", required = true)]
    pub services: Vec<String>,
    /// Concurrent Get streams per service (simulated clients).
    #[arg(long, env = "REDLINE_DST_STREAMS_PER_SERVICE", default_value_t = 1)]
    pub streams_per_service: u32,
    /// HTTP/2 connections to spread streams over (0: one per stream index, i.e. one
    /// connection per simulated proxy carrying one stream per service).
    #[arg(long, env = "REDLINE_DST_CONNECTIONS", default_value_t = 0)]
    pub connections: u32,
    /// Close and reopen each stream after this long.
    #[arg(long, env = "REDLINE_DST_STREAM_MAX_LIFETIME", value_parser = duration)]
    pub stream_max_lifetime: Option<Duration>,
    /// Close and reopen every stream at this interval.
    #[arg(long, env = "REDLINE_DST_STREAM_RESET_INTERVAL", value_parser = duration)]
    pub stream_reset_interval: Option<Duration>,
    /// First wait before reconnecting after a failure; doubles up to the max.
    #[arg(long, env = "REDLINE_DST_BACKOFF_MIN", default_value = "100ms", value_parser = duration)]
    pub backoff_min: Duration,
    #[arg(long, env = "REDLINE_DST_BACKOFF_MAX", default_value = "10s", value_parser = duration)]
    pub backoff_max: Duration,
    /// Time allowed from opening a stream to its first update.
    #[arg(long, env = "REDLINE_DST_CONNECT_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub connect_timeout: Duration,
    /// Streams opened per second at most (0: all at once).
    #[arg(long, env = "REDLINE_DST_OPEN_RATE", default_value_t = 0)]
    pub open_rate: u32,

    /// Context token `ns` (downward API: metadata.namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub pod_namespace: String,
    /// Context token `pod` (downward API: metadata.name).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    /// Context token `nodeName` (downward API: spec.nodeName).
    #[arg(long, env = "NODE_NAME", default_value = "")]
    pub node_name: String,

    /// Do not watch churn's scale events (no latency or fan-out series).
    #[arg(long, env = "REDLINE_DST_NO_CORRELATE")]
    pub no_correlate: bool,
    /// Namespace whose Deployments carry churn's annotations (default: the namespace
    /// of the first service).
    #[arg(long, env = "REDLINE_DST_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Kubeconfig of the cluster churn runs in (federated mode); default: this cluster.
    #[arg(long, env = "REDLINE_DST_WATCH_KUBECONFIG")]
    pub watch_kubeconfig: Option<PathBuf>,
    /// Suffix the resolved names carry but churn's Deployments do not (multicluster
    /// mirrors, e.g. `-target` or `-federated`), stripped to correlate.
    #[arg(long, env = "REDLINE_DST_STRIP_SUFFIX")]
    pub strip_suffix: Option<String>,
    /// How long every stream has to reach an event's target before it counts unobserved.
    #[arg(long, env = "REDLINE_DST_CONVERGE_TIMEOUT", default_value = "60s", value_parser = duration)]
    pub converge_timeout: Duration,
    /// Before stopping, check that every stream holds exactly the endpoints the API's
    /// EndpointSlices hold for its service (waiting up to --converge-timeout for them to
    /// agree); the run fails naming the streams that do not.
    #[arg(long, env = "REDLINE_DST_VERIFY_ENDPOINTS")]
    pub verify_endpoints: bool,
    /// Stop after this long (default: run until SIGTERM).
    #[arg(long, env = "REDLINE_DST_DURATION", value_parser = duration)]
    pub duration: Option<Duration>,
}

/// One resolved service: the authority streams ask for and the name it is reported by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `<svc>.<ns>.svc.<domain>:<port>`, sent as `GetDestination.path`.
    pub authority: String,
    /// The `service` label and churn's Deployment name (suffix stripped).
    pub name: String,
    pub namespace: String,
}

impl DstClientArgs {
    /// Defaults as the command line gives them, for tests and embedding.
    pub fn new(common: CommonArgs, destination: &str, services: &str) -> Self {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: DstClientArgs,
        }
        let mut a = <Cli as clap::Parser>::try_parse_from(["dst-client", "--services", services])
            .expect("the defaults parse")
            .args;
        a.common = common;
        a.destination = destination.to_string();
        a
    }

    /// The expanded, parsed `--services`.
    pub fn targets(&self) -> Result<Vec<Target>, DstClientError> {
        let mut out: Vec<Target> = Vec::new();
        for pattern in &self.services {
            for authority in expand(pattern)? {
                let host = authority
                    .rsplit_once(':')
                    .map_or(authority.as_str(), |(h, p)| {
                        if p.chars().all(|c| c.is_ascii_digit()) {
                            h
                        } else {
                            authority.as_str()
                        }
                    });
                let labels: Vec<&str> = host.split('.').collect();
                let (svc, ns) = match labels.as_slice() {
                    [svc, ns, "svc", ..] if !svc.is_empty() && !ns.is_empty() => (*svc, *ns),
                    _ => {
                        return Err(DstClientError::Flag {
                            flag: "--services",
                            message: format!(
                                "{authority:?} is not <service>.<namespace>.svc.<cluster-domain>:<port>"
                            ),
                        });
                    }
                };
                let (svc, ns) = (svc.to_string(), ns.to_string());
                let name = self
                    .strip_suffix
                    .as_deref()
                    .and_then(|s| svc.strip_suffix(s))
                    .unwrap_or(&svc)
                    .to_string();
                if out.iter().any(|t| t.authority == authority) {
                    continue;
                }
                out.push(Target {
                    authority,
                    name,
                    namespace: ns,
                });
            }
        }
        Ok(out)
    }

    /// The destination as a URI tonic can dial.
    pub fn destination_uri(&self) -> String {
        if self.destination.contains("://") {
            self.destination.clone()
        } else {
            format!("http://{}", self.destination)
        }
    }

    /// `{"ns":..,"nodeName":..,"pod":..}`, as Linkerd proxies send it.
    pub fn context_token(&self) -> String {
        serde_json::json!({
            "ns": self.pod_namespace,
            "nodeName": self.node_name,
            "pod": self.pod_name,
        })
        .to_string()
    }

    pub fn validate(&self) -> Result<(), DstClientError> {
        let bad = |flag: &'static str, message: &str| {
            Err(DstClientError::Flag {
                flag,
                message: message.into(),
            })
        };
        if self.streams_per_service == 0 {
            return bad("--streams-per-service", "must be at least 1");
        }
        if self.backoff_min.is_zero() || self.backoff_min > self.backoff_max {
            return bad(
                "--backoff-min",
                "must be above zero and at most --backoff-max",
            );
        }
        if self.stream_max_lifetime.is_some_and(|d| d.is_zero()) {
            return bad("--stream-max-lifetime", "must be above zero");
        }
        if self.stream_reset_interval.is_some_and(|d| d.is_zero()) {
            return bad("--stream-reset-interval", "must be above zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DstClientArgs,
    }

    #[test]
    fn plan_example_parses() {
        let cli = Cli::try_parse_from([
            "dst-client",
            "--destination=linkerd-destination.linkerd.svc.cluster.local:8086",
            "--services=test-service-{1..10}.test-load.svc.cluster.local:8080",
            "--streams-per-service=10",
            "--stream-max-lifetime=5m",
            "--stream-reset-interval=2m",
        ])
        .unwrap();
        let a = cli.args;
        let t = a.targets().unwrap();
        assert_eq!(t.len(), 10);
        assert_eq!(t[9].name, "test-service-10");
        assert_eq!(t[9].namespace, "test-load");
        assert_eq!(
            a.destination_uri(),
            "http://linkerd-destination.linkerd.svc.cluster.local:8086"
        );
        assert_eq!(a.stream_max_lifetime, Some(Duration::from_secs(300)));
        a.validate().unwrap();
    }

    #[test]
    fn context_token_has_the_downward_api_fields() {
        let mut a = DstClientArgs::new(
            CommonArgs::default(),
            "127.0.0.1:1",
            "a.b.svc.cluster.local:80",
        );
        a.pod_namespace = "test-load".into();
        a.pod_name = "client-0".into();
        a.node_name = "node-1".into();
        let v: serde_json::Value = serde_json::from_str(&a.context_token()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ns": "test-load", "nodeName": "node-1", "pod": "client-0"})
        );
    }

    #[test]
    fn mirrors_are_correlated_by_their_source_name_and_bad_names_refused() {
        let mut a = DstClientArgs::new(
            CommonArgs::default(),
            "x:1",
            "s-{1..2}-target.test-load.svc.cluster.local:8080",
        );
        a.strip_suffix = Some("-target".into());
        let names: Vec<String> = a.targets().unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["s-1", "s-2"]);
        let a = DstClientArgs::new(CommonArgs::default(), "x:1", "example.com:80");
        let e = a.targets().unwrap_err().to_string();
        assert!(e.contains("--services") && e.contains("example.com"), "{e}");
    }
}
