//! `redline fit --watch`: while a test runs, every `--interval` take a reading and write
//! it as `redline_fit_budget_ratio` (requests, limits, usage) through the runtime's push
//! loop, so the budget alerts judge what the pods actually used. Bounded by `--duration`;
//! SIGTERM or the stop token end it early, with a last push and staleness markers.

use redline_runtime::Runtime;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::args::FitArgs;
use crate::error::FitError;
use crate::measure::fit_with;
use crate::metrics::Metrics;
use crate::report::FitReport;
use crate::usage::UsageStatus;

/// Logs usage becoming unavailable or available again, once per change, not every tick.
fn status_line(previous: Option<&UsageStatus>, now: &UsageStatus) {
    let was_available = previous.map(|p| p.usage().is_some());
    match now {
        UsageStatus::Unavailable { reason } => {
            let changed = previous.is_none_or(|p| p != now);
            if changed {
                tracing::warn!(
                    "usage unavailable, not judged (redline_fit_usage_available 0; requests and limits still written): {reason}"
                );
            }
        }
        UsageStatus::Available(u) if was_available != Some(true) => {
            tracing::info!(pods = u.pods, "usage available from metrics.k8s.io");
        }
        _ => {}
    }
}

/// Runs until `--duration` passes, SIGTERM, or `stop`; returns the last reading.
pub async fn watch(
    args: &FitArgs,
    client: &kube::Client,
    stop: CancellationToken,
) -> Result<Option<FitReport>, FitError> {
    args.validate().map_err(FitError::Flags)?;
    let mut rt = Runtime::new(&args.common, "fit")?;
    let metrics = Metrics::register(rt.registry());
    let running = rt.start().await?;
    let shutdown = running.shutdown_token();
    running.set_ready(true);
    let deadline = Instant::now() + args.duration;
    let mut ticks = tokio::time::interval(args.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last: Option<FitReport> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = tokio::time::sleep_until(deadline) => break,
            _ = shutdown.cancelled() => break,
            _ = stop.cancelled() => break,
        }
        match fit_with(args, Some(client)).await {
            Ok(report) => {
                status_line(last.as_ref().map(|r| &r.usage), &report.usage);
                metrics.record(&report);
                running.push_now().await;
                last = Some(report);
            }
            // A failed list (API server restarting, throttled) keeps the last values;
            // the next tick tries again.
            Err(e) => {
                tracing::warn!(error = %e, "reading the workloads failed; keeping the last values")
            }
        }
    }
    running.finish().await?;
    Ok(last)
}
