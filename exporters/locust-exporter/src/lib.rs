//! `redline locust-exporter`: polls a Locust master's `/stats/requests` and turns it into
//! `locust_*` series (served on `/metrics` and remote-written), so a Locust run is judged by
//! the same recording rules, alerts, dashboards and `redline verdict` as redline's own load.
//!
//! The parts:
//! - [`report`]: the JSON Locust's web UI serves, read leniently but never guessed at;
//! - [`poll`]: how each poll went (ok, unreachable, an HTTP error, not Locust's JSON);
//! - [`tracker`]: cumulative totals → increments, reset-safe (Locust clears its stats when a
//!   new test starts), attributed to a `step` (the user count), with bounded label sets;
//! - [`metrics`]: the families, under their catalogue names;
//! - [`run`]: the poll loop, the end of the run (final stats, then staleness markers).
//!
//! Response times are Locust's own: it rounds them to about two significant digits before
//! computing percentiles (147 ms is kept as 150 ms), and its percentiles cover the whole test
//! so far, not the last interval.

pub mod args;
pub mod metrics;
pub mod poll;
pub mod report;
pub mod tracker;

use std::time::{Duration, Instant};

pub use args::LocustExporterArgs;
use redline_runtime::{Runtime, RuntimeError};

use crate::metrics::Metrics;
use crate::poll::PollResult;
use crate::report::StatsReport;
use crate::tracker::Tracker;

#[derive(Debug, thiserror::Error)]
pub enum LocustExporterError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}

/// Polls until Locust's test has stopped (then once more for the final numbers), Locust has
/// been unreachable for `--gone-after`, or SIGINT/SIGTERM; then finishes (final push and
/// staleness markers).
pub async fn run(args: LocustExporterArgs) -> Result<(), LocustExporterError> {
    let url = args.stats_url()?;
    let mut rt = Runtime::new(&args.common, "locust-exporter")?;
    let metrics = Metrics::register(rt.registry(), &args.scenario);
    let running = rt.start().await?;
    let stop = running.shutdown_token();
    let http = reqwest::Client::builder()
        .timeout(args.request_timeout)
        .build()
        .map_err(|e| LocustExporterError::Flag {
            flag: "--locust-url",
            message: e.to_string(),
        })?;
    let mut tracker = Tracker::new(args.max_endpoints, args.max_errors);
    let shown = args.redacted_url();
    tracing::info!(locust = %shown, interval = ?args.interval, "locust-exporter: polling /stats/requests");

    let mut last_ok: Option<Instant> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        match report::fetch(&http, &url).await {
            Ok(r) => {
                metrics.poll(PollResult::Ok);
                running.set_ready(true);
                if failing {
                    tracing::info!(locust = %shown, "locust-exporter: Locust answers again");
                    failing = false;
                }
                last_ok = Some(Instant::now());
                let ended = apply(&mut tracker, &metrics, &running, &r).await;
                if ended && args.exit_on_stop {
                    // Locust caches /stats/requests for 2 s: read it once more after that so
                    // the last reports from the workers are in.
                    tokio::time::sleep(Duration::from_millis(2_500)).await;
                    if let Ok(r) = report::fetch(&http, &url).await {
                        metrics.poll(PollResult::Ok);
                        apply(&mut tracker, &metrics, &running, &r).await;
                    }
                    tracing::info!(state = %r.state, "locust-exporter: the Locust test stopped; finishing");
                    break;
                }
            }
            Err(e) => {
                metrics.poll(e.result());
                if !failing {
                    tracing::warn!(locust = %shown, error = %e, "locust-exporter: poll failed; keeps polling");
                    failing = true;
                } else {
                    tracing::debug!(error = %e, "locust-exporter: poll failed");
                }
                if let Some(seen) = last_ok
                    && !args.gone_after.is_zero()
                    && seen.elapsed() >= args.gone_after
                {
                    tracing::info!(gone_for = ?seen.elapsed(), "locust-exporter: Locust has gone; finishing with its last stats");
                    break;
                }
            }
        }
    }
    running.set_ready(false);
    running.finish().await?;
    Ok(())
}

/// One report into the metrics. True when it shows a test that ran and has now stopped.
async fn apply(
    tracker: &mut Tracker,
    metrics: &Metrics,
    running: &redline_runtime::Running,
    r: &StatsReport,
) -> bool {
    let obs = tracker.observe(r);
    // A counter series that first appears with a value above 0 loses that first increase in
    // rate()/increase(); so new series are pushed at 0 once before they count anything.
    if metrics.create_counters(&obs) {
        running.push_now().await;
    }
    metrics.apply(&obs, r, tracker);
    obs.ended
}
