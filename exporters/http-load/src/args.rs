//! Flags of `redline http-load` (every one also an env var) and the one-URL shortcut, which
//! builds the same [`ScenarioFile`] a scenario file would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use redline_runtime::CommonArgs;

use crate::connection_options::ConnectionOptions;
use crate::scenario::{Executor, RequestSpec, Scenario, ScenarioFile, Tokens};
use crate::segment::Segment;

#[derive(clap::Args, Debug, Clone)]
pub struct HttpLoadArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Scenario file (YAML). Without one, URL and the shortcut flags describe a single scenario.
    #[arg(long, short = 'f', env = "REDLINE_HTTP_LOAD_SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Target URL for the shortcut (`--vus 10 --iterations 100 URL`, `--rate 50 --duration 2m URL`).
    #[arg(env = "REDLINE_HTTP_LOAD_URL")]
    pub url: Option<String>,

    /// Shortcut: VUs (closed model; with --rate, the pre-allocated VUs).
    #[arg(long, env = "REDLINE_HTTP_LOAD_VUS")]
    pub vus: Option<u64>,
    /// Shortcut: iterations shared by the VUs (shared-iterations).
    #[arg(long, env = "REDLINE_HTTP_LOAD_ITERATIONS")]
    pub iterations: Option<u64>,
    /// Shortcut: run for this long (constant-vus, or constant-arrival-rate with --rate).
    #[arg(long, env = "REDLINE_HTTP_LOAD_DURATION", value_parser = crate::scenario::parse_duration)]
    pub duration: Option<Duration>,
    /// Shortcut: iterations started per second (constant-arrival-rate, open model).
    #[arg(long, env = "REDLINE_HTTP_LOAD_RATE")]
    pub rate: Option<f64>,
    /// Shortcut: VUs an arrival-rate run may grow to.
    #[arg(long, env = "REDLINE_HTTP_LOAD_MAX_VUS")]
    pub max_vus: Option<u64>,
    /// Shortcut: HTTP method.
    #[arg(long, env = "REDLINE_HTTP_LOAD_METHOD")]
    pub method: Option<String>,
    /// Shortcut: request header `Name: value` (repeatable).
    #[arg(
        long = "header",
        short = 'H',
        env = "REDLINE_HTTP_LOAD_HEADERS",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,
    /// Shortcut: request body.
    #[arg(long, env = "REDLINE_HTTP_LOAD_BODY")]
    pub body: Option<String>,
    /// Shortcut: the `name` label (default: the URL).
    #[arg(long, env = "REDLINE_HTTP_LOAD_NAME")]
    pub name: Option<String>,
    /// Shortcut: scenario name.
    #[arg(
        long = "scenario-name",
        env = "REDLINE_HTTP_LOAD_SCENARIO_NAME",
        default_value = "default"
    )]
    pub scenario_name: String,

    /// This whole run is one step of a sweep that spans runs (e.g. MaaS token volume, where
    /// the level is cluster state set between runs): the step label of its only step.
    /// Default: `<unit>-<level>`. Runs of one sweep share one testid.
    #[arg(long, env = "REDLINE_HTTP_LOAD_STEP_NAME")]
    pub step_name: Option<String>,
    /// The sweep step's level, written as `redline_step_level` (e.g. 10 active tokens).
    #[arg(long, env = "REDLINE_HTTP_LOAD_STEP_LEVEL")]
    pub step_level: Option<f64>,
    /// The sweep step's unit, the `unit` label of `redline_step_level` (e.g. `tokens`).
    #[arg(long, env = "REDLINE_HTTP_LOAD_STEP_UNIT")]
    pub step_unit: Option<String>,

    /// Bearer tokens file (`token` or `tier,token` per line); overrides the scenario's tokens.
    #[arg(long, env = "REDLINE_HTTP_LOAD_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Run only segment i of n (0-based), so n pods together run the scenario once.
    #[arg(long, env = "REDLINE_HTTP_LOAD_SEGMENT")]
    pub segment: Option<Segment>,
    /// Number of segments; the index then comes from JOB_COMPLETION_INDEX (Indexed Job).
    #[arg(long, env = "REDLINE_HTTP_LOAD_SEGMENTS")]
    pub segments: Option<u64>,

    /// Write k6's handleSummary data (plus `steps`) to this JSON file.
    #[arg(long, env = "REDLINE_HTTP_LOAD_SUMMARY_EXPORT")]
    pub summary_export: Option<PathBuf>,
    /// The summary's trend stats, like k6's `--summary-trend-stats`: avg, min, med, max, count,
    /// p(N). Also the keys of `--summary-export`'s trend values (`p(99)`, …).
    #[arg(
        long,
        env = "REDLINE_HTTP_LOAD_SUMMARY_TREND_STATS",
        value_delimiter = ',',
        default_value = crate::summary::DEFAULT_TREND_STATS
    )]
    pub summary_trend_stats: Vec<String>,
    /// k6 trend-stat gauges to write, like K6_PROMETHEUS_RW_TREND_STATS: e.g. `p(95),p(99),avg`.
    /// The default is k6's remote-write output's default, `p(99)`
    /// (`k6_http_req_duration_p99`), so k6's own dashboards find their series; the
    /// `k6_http_req_duration_seconds` histograms are written beside them. An empty value
    /// (`--trend-stats ''`) writes none.
    #[arg(
        long,
        env = "REDLINE_HTTP_LOAD_TREND_STATS",
        value_delimiter = ',',
        default_value = "p(99)"
    )]
    pub trend_stats: Vec<String>,
    /// Per-request timeout (overrides the scenario's).
    #[arg(long, env = "REDLINE_HTTP_LOAD_TIMEOUT", value_parser = crate::scenario::parse_duration)]
    pub timeout: Option<Duration>,
    /// Use HTTP/2.
    #[arg(long, env = "REDLINE_HTTP_LOAD_HTTP2")]
    pub http2: bool,
    /// HTTP/1.1: at most this many open connections, VUs beyond it wait (blocked time).
    /// With --http2: this many connections per origin, shared by all VUs as concurrent
    /// streams (h2load's -c).
    #[arg(long, env = "REDLINE_HTTP_LOAD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// With --http2 --max-connections: at most this many concurrent streams per connection
    /// (h2load's -m); default: the server's SETTINGS_MAX_CONCURRENT_STREAMS.
    #[arg(long, env = "REDLINE_HTTP_LOAD_STREAMS_PER_CONNECTION")]
    pub streams_per_connection: Option<usize>,
    /// A new connection (and TLS handshake) for every request, like k6's noConnectionReuse or
    /// wrk with `Connection: close`.
    #[arg(long, env = "REDLINE_HTTP_LOAD_NO_CONNECTION_REUSE")]
    pub no_connection_reuse: bool,
    /// HTTP/2 implementation: `lean` (redline's own frames, the default) or `h2` (the h2
    /// crate, for comparison). SSE streams always use `h2`.
    #[arg(
        long,
        env = "REDLINE_HTTP_LOAD_HTTP2_ENGINE",
        value_enum,
        default_value_t,
        hide = true
    )]
    pub http2_engine: crate::connection_options::Http2Engine,
    /// Skip TLS certificate verification.
    #[arg(long, env = "REDLINE_HTTP_LOAD_INSECURE")]
    pub insecure: bool,
    /// Threads that run VUs, each its own single-threaded runtime (default: one per CPU the
    /// process may use, or half of them when every target is on this machine, which then
    /// needs the other half). 0 runs VUs on the daemon's shared runtime.
    #[arg(long, env = "REDLINE_HTTP_LOAD_WORKERS")]
    pub workers: Option<usize>,
    /// Keep polling a VU thread's sockets for this long after its last finished iteration
    /// instead of sleeping (0, the default: off). On a VM whose idle vCPUs wake slowly this
    /// keeps a fast target fed and takes the client's wake-up out of the latency measured;
    /// the thread then uses a whole core while the load is on, so give it one of its own.
    /// Needs VU threads (`--workers` above 0).
    #[arg(long, env = "REDLINE_HTTP_LOAD_BUSY_POLL", value_parser = crate::scenario::parse_duration, default_value = "0s")]
    pub busy_poll: Duration,
    /// No progress bar or progress lines.
    #[arg(long, env = "REDLINE_HTTP_LOAD_QUIET")]
    pub quiet: bool,
    /// Print the terminal summary (on by default; `--no-summary` to turn off).
    #[arg(long = "no-summary", env = "REDLINE_HTTP_LOAD_NO_SUMMARY")]
    pub no_summary: bool,
}

impl HttpLoadArgs {
    /// Arguments for tests: loopback admin, no remote-write, quiet.
    pub fn for_test(common: CommonArgs) -> Self {
        Self {
            common,
            scenario: None,
            url: None,
            vus: None,
            iterations: None,
            duration: None,
            rate: None,
            max_vus: None,
            method: None,
            headers: Vec::new(),
            body: None,
            name: None,
            scenario_name: "default".into(),
            step_name: None,
            step_level: None,
            step_unit: None,
            tokens_file: None,
            segment: None,
            segments: None,
            summary_export: None,
            trend_stats: vec!["p(99)".into()],
            summary_trend_stats: crate::summary::DEFAULT_TREND_STATS
                .split(',')
                .map(String::from)
                .collect(),
            timeout: None,
            http2: false,
            max_connections: None,
            streams_per_connection: None,
            no_connection_reuse: false,
            http2_engine: Default::default(),
            insecure: false,
            workers: None,
            busy_poll: Duration::ZERO,
            quiet: true,
            no_summary: true,
        }
    }

    /// The segment to run: `--segment`, else `--segments` with JOB_COMPLETION_INDEX.
    pub fn segment(&self) -> Result<Segment, String> {
        if let Some(s) = self.segment {
            return Ok(s);
        }
        match self.segments {
            None | Some(1) => Ok(Segment::WHOLE),
            Some(n) => {
                let idx = std::env::var("JOB_COMPLETION_INDEX")
                    .map_err(|_| "--segments needs JOB_COMPLETION_INDEX (set by an Indexed Job) or use --segment i/n".to_owned())?;
                let i = idx
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("JOB_COMPLETION_INDEX={idx:?} is not a number"))?;
                Segment::new(i, n)
            }
        }
    }

    /// The sweep step the flags declare, if any.
    pub fn sweep_step(&self) -> Result<Option<crate::sweep::SweepStep>, String> {
        crate::sweep::SweepStep::from_flags(
            self.step_name.as_deref(),
            self.step_level,
            self.step_unit.as_deref(),
        )
    }

    /// The connection flags, as a scenario file's options will carry them.
    pub fn connection_options(&self) -> ConnectionOptions {
        ConnectionOptions {
            max_connections: self.max_connections,
            streams_per_connection: self.streams_per_connection,
            no_connection_reuse: self.no_connection_reuse,
        }
    }

    /// The shortcut as a scenario file.
    pub fn shortcut(&self) -> Result<ScenarioFile, String> {
        let url = self
            .url
            .clone()
            .ok_or("give a scenario file (--scenario) or a URL")?;
        let mut headers = BTreeMap::new();
        for h in &self.headers {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("header {h:?}: expected `Name: value`"))?;
            headers.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        let request = RequestSpec {
            name: self.name.clone(),
            method: self.method.clone(),
            url,
            headers,
            body: self.body.clone().map(crate::scenario::Body::Text),
            openai: None,
            weight: None,
            checks: Vec::new(),
            tags: BTreeMap::new(),
        };
        let mut s = Scenario {
            executor: Executor::SharedIterations,
            vus: None,
            iterations: None,
            duration: None,
            max_duration: None,
            rate: None,
            time_unit: None,
            pre_allocated_vus: None,
            max_vus: None,
            start_vus: None,
            start_rate: None,
            stages: None,
            every: None,
            times: None,
            start_time: None,
            graceful_stop: None,
            steps: None,
            settle: None,
            cooldown: None,
            think: None,
            mix: None,
            vars: BTreeMap::new(),
            tags: BTreeMap::new(),
            requests: vec![request],
        };
        match (self.rate, self.iterations, self.duration) {
            (Some(rate), None, Some(d)) => {
                s.executor = Executor::ConstantArrivalRate;
                s.rate = Some(rate);
                s.duration = Some(d);
                let pre = self
                    .vus
                    .unwrap_or_else(|| (rate.ceil() as u64).clamp(1, 100));
                s.pre_allocated_vus = Some(pre);
                s.max_vus = Some(self.max_vus.unwrap_or(pre * 10).max(pre));
            }
            (Some(_), _, _) => return Err("--rate needs --duration (and no --iterations)".into()),
            (None, Some(i), None) => {
                s.executor = Executor::SharedIterations;
                s.vus = Some(self.vus.unwrap_or(1));
                s.iterations = Some(i);
            }
            (None, None, Some(d)) => {
                s.executor = Executor::ConstantVus;
                s.vus = Some(self.vus.unwrap_or(1));
                s.duration = Some(d);
            }
            (None, Some(_), Some(_)) => {
                return Err("give --iterations or --duration, not both".into());
            }
            (None, None, None) => {
                // k6's default: 1 VU, 1 iteration.
                s.vus = Some(self.vus.unwrap_or(1));
                s.iterations = Some(self.vus.unwrap_or(1));
            }
        }
        if self.max_vus.is_some() && self.rate.is_none() {
            return Err("--max-vus only applies with --rate".into());
        }
        let file = ScenarioFile {
            base_url: None,
            headers: BTreeMap::new(),
            tokens: self.tokens_file.clone().map(|f| Tokens {
                file: Some(f),
                dir: None,
                generate: BTreeMap::new(),
            }),
            timeout: Duration::from_secs(60),
            expected_statuses: None,
            http2: false,
            insecure_skip_tls_verify: false,
            scenarios: [(self.scenario_name.clone(), s)].into(),
        };
        file.validate().map_err(|(f, m)| format!("{f}: {m}"))?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(a: &[&str]) -> HttpLoadArgs {
        redline_runtime::parse_flags::<HttpLoadArgs>(a).unwrap()
    }

    #[test]
    fn shortcut_iterations_and_rate() {
        let f = parse(&["--vus", "10", "--iterations", "100", "http://127.0.0.1:1/"])
            .shortcut()
            .unwrap();
        let s = &f.scenarios["default"];
        assert_eq!(
            (s.executor, s.vus, s.iterations),
            (Executor::SharedIterations, Some(10), Some(100))
        );
        let f = parse(&["--rate", "50", "--duration", "2m", "http://127.0.0.1:1/"])
            .shortcut()
            .unwrap();
        let s = &f.scenarios["default"];
        assert_eq!(s.executor, Executor::ConstantArrivalRate);
        assert_eq!(s.duration, Some(Duration::from_secs(120)));
        assert_eq!((s.pre_allocated_vus, s.max_vus), (Some(50), Some(500)));
        assert!(parse(&["--rate", "5", "http://x/"]).shortcut().is_err());
        assert!(parse(&[]).shortcut().is_err());
    }

    #[test]
    fn connection_flags_parse_into_options() {
        let a = parse(&[
            "--http2",
            "--max-connections",
            "5",
            "--streams-per-connection",
            "10",
            "https://127.0.0.1:1/",
        ]);
        assert_eq!(
            a.connection_options(),
            ConnectionOptions {
                max_connections: Some(5),
                streams_per_connection: Some(10),
                no_connection_reuse: false,
            }
        );
        assert!(
            parse(&["--no-connection-reuse", "http://x/"])
                .connection_options()
                .no_connection_reuse
        );
    }

    #[test]
    fn segment_flag_parses() {
        assert_eq!(
            parse(&["--segment", "1/3", "http://x/"]).segment().unwrap(),
            Segment::new(1, 3).unwrap()
        );
    }
}
