//! The poll loop: fetch Locust's stats every --interval, turn them into increments and series,
//! and finish when Locust's test stopped, Locust has gone, or on a signal.

use std::time::{Duration, Instant};

use redline_runtime::Runtime;

use crate::metrics::Metrics;
use crate::poll::PollResult;
use crate::report::{self, StatsReport};
use crate::tracker::Tracker;
use crate::{LocustExporterArgs, LocustExporterError};

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
                    settle(&http, &url, &mut tracker, &metrics, &running, &r).await;
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

/// After the test stopped, the workers' last reports may still be on their way to the master,
/// and Locust caches /stats/requests for 2 s: read it again after each cache period until two
/// reads agree on the totals (at most four more reads), so the last requests are counted.
async fn settle(
    http: &reqwest::Client,
    url: &reqwest::Url,
    tracker: &mut Tracker,
    metrics: &Metrics,
    running: &redline_runtime::Running,
    stopped: &StatsReport,
) {
    let totals = |r: &StatsReport| r.total().map(|e| (e.num_requests, e.num_failures));
    let mut last = totals(stopped);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let Ok(r) = report::fetch(http, url).await else {
            return;
        };
        metrics.poll(PollResult::Ok);
        apply(tracker, metrics, running, &r).await;
        let now = totals(&r);
        if now == last {
            return;
        }
        last = now;
    }
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
