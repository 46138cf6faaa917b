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

/// Locust caches /stats/requests for 2 s; a read this long after another is a fresh one.
const FRESH_READ_AFTER: Duration = Duration::from_millis(2_500);
/// A Locust worker sends its stats to the master every 3 s (`WORKER_REPORT_INTERVAL`) and
/// sends none of its own when a test stops (only when it quits), so a master's totals may still
/// grow up to 3 s after it says "stopped", and show up to 2 s later still (the cache). Quiet for
/// this long, they are final.
const MASTER_QUIET_FOR: Duration = Duration::from_secs(6);
/// Bounds the settling: a master whose totals keep changing is read at most this often.
const MAX_SETTLE_READS: usize = 8;

/// After the test stopped, read Locust's stats again, one cache period apart, until they are
/// final: on a master (it reports `worker_count`), until the totals have not changed for
/// [`MASTER_QUIET_FOR`], the workers' last periodic reports having arrived; on a standalone
/// Locust, whose stats are its own, until one fresh read agrees with the last. Ends early if
/// Locust has gone (`--autoquit` shorter than the settling), saying so: the last reports may be
/// lost.
async fn settle(
    http: &reqwest::Client,
    url: &reqwest::Url,
    tracker: &mut Tracker,
    metrics: &Metrics,
    running: &redline_runtime::Running,
    stopped: &StatsReport,
) {
    let totals = |r: &StatsReport| r.total().map(|e| (e.num_requests, e.num_failures));
    let quiet_for = if stopped.worker_count.is_some() {
        MASTER_QUIET_FOR
    } else {
        FRESH_READ_AFTER
    };
    let mut last = totals(stopped);
    let mut changed_at = Instant::now();
    for _ in 0..MAX_SETTLE_READS {
        tokio::time::sleep(FRESH_READ_AFTER).await;
        let Ok(r) = report::fetch(http, url).await else {
            tracing::warn!(
                unchanged_for = ?changed_at.elapsed(),
                "locust-exporter: Locust went before its totals had been quiet for {quiet_for:?}; \
                 the workers' last reports may be missing (give Locust --autoquit 10 or more)"
            );
            return;
        };
        metrics.poll(PollResult::Ok);
        apply(tracker, metrics, running, &r).await;
        let now = totals(&r);
        if now != last {
            last = now;
            changed_at = Instant::now();
        } else if changed_at.elapsed() >= quiet_for {
            return;
        }
    }
    tracing::warn!(
        "locust-exporter: Locust's totals still changed {MAX_SETTLE_READS} reads after the test stopped; finishing with the last"
    );
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
