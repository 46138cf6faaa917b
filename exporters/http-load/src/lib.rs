//! `redline http-load`: a k6-compatible HTTP load generator.
//!
//! - [`scenario`]: the YAML scenario file (k6 executor names and options, steps, mix,
//!   tokens, checks, `openai`), with errors naming file, field and line; [`args`] builds the
//!   same thing from the one-URL shortcut.
//! - [`plan`] + [`segment`]: executors compiled to steps, this pod's share applied.
//! - [`engine`] + [`vu`] + [`client`]: VUs each owning a connection (lean HTTP/1.1 in `h1`,
//!   HTTP/2 on the h2 crate in `h2conn`, hyper for SSE and limited HTTP/1.1), or sharing
//!   HTTP/2 connections as streams ([`h2pool`]); open models measure from the intended start
//!   time (no coordinated omission).
//! - [`metrics`]: per-thread HDR shards merged at collection into k6's series.
//! - [`summary`]: k6's handleSummary data, the terminal summary and the per-step table.

pub mod args;
mod arrival;
mod busy_poll;
pub mod client;
pub mod connection_options;
pub mod engine;
mod error;
mod fine_sleep;
mod h1;
mod h1head;
mod h2conn;
pub mod h2lean;
pub mod h2pool;
mod llm;
pub mod metrics;
pub mod plan;
mod progress;
pub mod request;
pub mod response;
pub mod scenario;
pub mod segment;
mod stream;
pub mod summary;
pub mod sweep;
mod tls_provider;
mod tls_tcp;
pub mod tokens;
pub mod vu;
mod vus;
mod wire;
pub mod workers;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use redline_runtime::{Runtime, RuntimeError};

pub use args::HttpLoadArgs;
pub use scenario::{ScenarioError, ScenarioFile};
pub use segment::Segment;
pub use summary::{StepRow, Summary};

use crate::metrics::{Labels, Metrics, MetricsCollector, RequestLabel, TrendStat};
use crate::vu::{ScenarioRt, Shared};

#[derive(Debug, thiserror::Error)]
pub enum HttpLoadError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Tokens(#[from] tokens::TokensError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write summary {path}: {source}")]
    Summary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a finished run reports (the binary prints; tests assert).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub summary: Summary,
    /// The final `/metrics` text (OpenMetrics), for tests that read the exposition.
    pub metrics_text: String,
    pub testid: String,
}

/// Whether every request of every scenario goes to this machine (URLs with templates count
/// as elsewhere: their host is known only when they are filled).
fn all_targets_local(scenarios: &[(Arc<ScenarioRt>, plan::ScenarioPlan)]) -> bool {
    scenarios
        .iter()
        .flat_map(|(rt, _)| &rt.requests.list)
        .all(|r| {
            r.static_uri
                .as_ref()
                .and_then(|u| u.host())
                .is_some_and(|h| {
                    workers::is_local_host(h.trim_start_matches('[').trim_end_matches(']'))
                })
        })
}

/// A timed step must hold at least two pushes: refused up front rather than judged on one
/// sample (the verdict's per-step figures come from exact step gauges, but the rules' rates
/// and the charts still need samples inside each step).
fn check_push_interval(
    scenarios: &[(Arc<ScenarioRt>, plan::ScenarioPlan)],
    every: std::time::Duration,
) -> Result<(), HttpLoadError> {
    for (_, p) in scenarios {
        for st in &p.steps {
            let timed = matches!(st.load, plan::Load::Vus { .. } | plan::Load::Arrival { .. });
            let d = st.load.duration();
            if timed && every * 2 > d {
                return Err(HttpLoadError::Usage(format!(
                    "--push-interval {}: scenario {:?} step {:?} lasts {}, shorter than two push intervals; push at most every {} (e.g. --push-interval 1s) or lengthen the step",
                    humantime::format_duration(every),
                    p.name,
                    st.label,
                    humantime::format_duration(d),
                    humantime::format_duration(d / 2),
                )));
            }
        }
    }
    Ok(())
}

/// The daemon: load the scenario, run it, report. Exits when the scenario ends or on a signal.
pub async fn run(args: HttpLoadArgs) -> Result<(), HttpLoadError> {
    execute(args).await.map(|_| ())
}

/// [`run`], returning what it reported.
pub async fn execute(args: HttpLoadArgs) -> Result<Outcome, HttpLoadError> {
    let file = match &args.scenario {
        Some(p) => ScenarioFile::load(p)?,
        None => args.shortcut().map_err(HttpLoadError::Usage)?,
    };
    let segment = args.segment().map_err(HttpLoadError::Usage)?;
    let trend_stats = args
        .trend_stats
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| TrendStat::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(HttpLoadError::Usage)?;
    for t in &trend_stats {
        let name = format!("k6_http_req_duration_{}", t.suffix());
        if !redline_catalogue::http_load::TREND_STATS
            .iter()
            .any(|f| f.name == name)
        {
            return Err(HttpLoadError::Usage(format!(
                "--trend-stats: {name} is not a catalogued series; use avg, min, max, med, p(50), p(90), p(95), p(99) or p(99.9)"
            )));
        }
    }
    let summary_stats =
        summary::parse_trend_stats(&args.summary_trend_stats).map_err(HttpLoadError::Usage)?;
    let tokens = match (&args.tokens_file, &file.tokens) {
        (Some(f), _) => Some(scenario::Tokens {
            file: Some(f.clone()),
            dir: None,
            generate: Default::default(),
        }),
        (None, t) => t.clone(),
    };
    let users = match &tokens {
        Some(t) => tokens::Users::load(t)?,
        None => tokens::Users::none(),
    };

    // Compile scenarios and the label tables.
    let mut labels = Labels {
        tiers: users.tiers.clone(),
        ..Labels::default()
    };
    let mut ids = request::Ids {
        next_request: 0,
        next_check: 0,
    };
    let sweep = args.sweep_step().map_err(HttpLoadError::Usage)?;
    let mut scenarios = Vec::new();
    for (i, (name, s)) in file.scenarios.iter().enumerate() {
        let requests = request::compile(name, s, file.base_url.as_deref(), &file.headers, &mut ids)
            .map_err(|e| {
                let path = args
                    .scenario
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("<command line>"));
                let line = args
                    .scenario
                    .as_ref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|t| scenario::locate(&t, &e.field));
                ScenarioError::Invalid {
                    path,
                    line,
                    field: e.field,
                    message: e.message,
                }
            })?;
        let plan = plan::compile(name, s, segment);
        labels.scenarios.push(name.clone());
        labels.scenario_tags.push(requests.tags.clone());
        let mut steps = engine::step_labels(&plan);
        if let Some(sw) = &sweep {
            sw.apply(name, &mut steps).map_err(HttpLoadError::Usage)?;
        }
        labels.steps.push(steps);
        for r in &requests.list {
            labels.requests.push(RequestLabel {
                scenario: i as u16,
                name: r.name.clone(),
                method: r.method.to_string(),
            });
            labels.request_tags.push(r.tags.clone());
            for c in &r.checks {
                labels.checks.push((i as u16, c.name.clone()));
            }
        }
        let rt = ScenarioRt {
            idx: i as u16,
            name: name.clone(),
            requests,
            think: s.think,
            open: s.executor.is_open(),
        };
        scenarios.push((Arc::new(rt), plan));
    }
    if args.common.remote_write_url.is_some() {
        check_push_interval(&scenarios, args.common.push_interval)?;
    }
    let metrics = Arc::new(Metrics::new(
        labels,
        file.expected_statuses.clone(),
        trend_stats,
    ));

    let mut rt = Runtime::new(&args.common, "http-load")?;
    rt.registry()
        .register_collector(Box::new(MetricsCollector(Arc::clone(&metrics))));
    let running = rt.start().await?;
    let testid = running.testid().to_owned();
    let stop = running.shutdown_token();
    running.set_ready(true);

    let http2 = args.http2 || file.http2;
    let mut client = client::ClientConfig::with_options(
        http2,
        args.timeout.unwrap_or(file.timeout),
        args.insecure || file.insecure_skip_tls_verify,
        args.connection_options(),
    )
    .map_err(HttpLoadError::Usage)?;
    client.http2_engine = args.http2_engine;
    let workers = match args.workers {
        Some(n) => n,
        None => {
            let local = all_targets_local(&scenarios);
            let n = workers::Workers::default_count(local);
            if local {
                tracing::info!(
                    workers = n,
                    "every target is on this machine: running VUs on half the cores and leaving the rest to it (--workers to choose)"
                );
            }
            n
        }
    };
    if workers == 0 && !args.busy_poll.is_zero() {
        return Err(HttpLoadError::Usage(
            "--busy-poll spins VU threads; with --workers 0 there are none".into(),
        ));
    }
    let h2 = match client.shape {
        connection_options::Shape::Multiplexed {
            connections,
            streams,
        } => Some(h2pool::H2Pools::new(connections, streams, workers.max(1))),
        _ => None,
    };
    let shared = Arc::new(Shared {
        metrics: Arc::clone(&metrics),
        client,
        users: Arc::new(users),
        h2,
        workers: workers.max(1),
    });
    let mut engine = engine::Engine::new(shared, stop.clone());
    if workers > 0 {
        let w = workers::Workers::start(workers, args.busy_poll)
            .map_err(|e| HttpLoadError::Usage(format!("cannot start {workers} VU threads: {e}")))?;
        engine.vus = vus::Vus::new(Some(Arc::new(w)));
    }
    let (btx, mut brx) = tokio::sync::mpsc::unbounded_channel();
    engine.boundaries = Some(btx);
    tracing::info!(
        testid = %testid,
        scenarios = scenarios.len(),
        segment = %format!("{}/{}", segment.index, segment.count),
        users = engine.shared.users.users.len(),
        "http-load starting"
    );
    let started = Instant::now();
    let progress =
        (!args.quiet).then(|| progress::start(Arc::clone(&metrics), started, stop.clone()));
    {
        let work = engine.run(scenarios);
        tokio::pin!(work);
        loop {
            tokio::select! {
                _ = &mut work => break,
                Some(pushed) = brx.recv() => {
                    running.push_now().await;
                    let _ = pushed.send(());
                }
            }
        }
    }
    let elapsed = started.elapsed();
    if let Some(p) = progress {
        p.finish().await;
    }
    let snap = metrics.snapshot();
    let timings = engine.timings.lock().expect("timings").clone();
    let summary = summary::build(
        &metrics,
        &snap,
        &timings,
        elapsed,
        &summary_stats,
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );

    let metrics_text = {
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(MetricsCollector(Arc::clone(&metrics))));
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &reg)
            .map_err(|e| HttpLoadError::Usage(format!("encoding metrics: {e}")))?;
        s
    };
    let report = running.finish().await?;
    if let Some(s) = report.stats.as_ref().filter(|s| s.dropped() > 0) {
        tracing::warn!(
            dropped = s.dropped(),
            "some samples never reached remote-write"
        );
    }
    if let Some(path) = &args.summary_export {
        let text = serde_json::to_string_pretty(&summary.data).expect("json values serialize");
        std::fs::write(path, text).map_err(|source| HttpLoadError::Summary {
            path: path.clone(),
            source,
        })?;
    }
    if !args.no_summary {
        println!("{}", summary::render(&summary));
    }
    Ok(Outcome {
        summary,
        metrics_text,
        testid,
    })
}
