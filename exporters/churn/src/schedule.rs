//! Plays a timeline against the clock: each step is handed to `dispatch` at
//! `start + step.at`, never earlier, and dispatching never waits for the API server
//! (per-service workers do that), so one slow call cannot delay other services.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::timeline::ScaleStep;

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The pattern (or `--duration`) is over.
    Completed,
    /// Stopped from outside (SIGTERM, or the caller).
    Stopped,
}

/// Dispatches every step at its time, then waits for `end` (or forever without one).
pub async fn drive(
    steps: impl IntoIterator<Item = ScaleStep>,
    start: Instant,
    end: Option<Duration>,
    stop: &CancellationToken,
    mut dispatch: impl FnMut(ScaleStep),
) -> Ended {
    for step in steps {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return Ended::Stopped,
            _ = tokio::time::sleep_until(start + step.at) => {}
        }
        dispatch(step);
    }
    match end {
        Some(end) => tokio::select! {
            biased;
            _ = stop.cancelled() => Ended::Stopped,
            _ = tokio::time::sleep_until(start + end) => Ended::Completed,
        },
        None => {
            stop.cancelled().await;
            Ended::Stopped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plans::{oscillate, plan, s, scenario_two};
    use crate::timeline::{Pattern, Plan, timeline};

    /// Plays `plan` under paused time and returns (offset, service, replicas) as dispatched.
    async fn played(plan: &Plan, seed: u64) -> (Vec<(Duration, u32, u32)>, Ended, Duration) {
        let start = Instant::now();
        let mut got = Vec::new();
        let stop = CancellationToken::new();
        let ended = drive(timeline(plan, seed), start, plan.end(), &stop, |st| {
            got.push((start.elapsed(), st.service, st.replicas))
        })
        .await;
        (got, ended, start.elapsed())
    }

    fn expected(plan: &Plan, seed: u64) -> Vec<(Duration, u32, u32)> {
        timeline(plan, seed)
            .map(|s| (s.at, s.service, s.replicas))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn every_pattern_plays_exactly_on_time() {
        let plans = [
            Plan::new(
                Pattern::Stable { replicas: 100 },
                10,
                None,
                Some(s(600)),
                Duration::ZERO,
                0,
                Duration::ZERO,
            ),
            Ok(scenario_two()),
            Plan::new(
                Pattern::ScaleUp {
                    from: 10,
                    to: 200,
                    over: s(30),
                    steps: 10,
                },
                10,
                None,
                Some(s(600)),
                Duration::from_millis(1500),
                0,
                Duration::ZERO,
            ),
            Plan::new(
                Pattern::Rolling {
                    min: 10,
                    max: 100,
                    step: 25,
                    interval: s(10),
                },
                4,
                Some(2),
                None,
                Duration::ZERO,
                2,
                s(2),
            ),
            Ok(plan(
                Pattern::Spike {
                    base: 100,
                    peak: 1000,
                    interval: s(120),
                    hold: s(15),
                },
                3,
                Some(4),
            )),
        ];
        for plan in plans {
            let plan = plan.unwrap();
            let (got, ended, took) = played(&plan, 11).await;
            assert_eq!(got, expected(&plan, 11), "{:?}", plan.pattern);
            assert_eq!(ended, Ended::Completed);
            assert_eq!(Some(took), plan.end(), "{:?}", plan.pattern);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn oscillate_three_cycles_of_scenario_two() {
        let (got, ended, took) = played(&scenario_two(), 2024).await;
        assert_eq!(ended, Ended::Completed);
        assert_eq!(took, s(120 + 3 * 420));
        assert_eq!(got.len(), 10 + 3 * 2 * 10);
        for svc in 0..10 {
            let seen: Vec<u32> = got.iter().filter(|g| g.1 == svc).map(|g| g.2).collect();
            assert_eq!(seen, [10, 200, 10, 200, 10, 200, 10]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_drive_at_once() {
        let plan = plan(oscillate(1, 2, 10, 10), 1, None);
        let stop = CancellationToken::new();
        let start = Instant::now();
        let canceller = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(s(25)).await;
            canceller.cancel();
        });
        let mut n = 0;
        let ended = drive(timeline(&plan, 1), start, None, &stop, |_| n += 1).await;
        assert_eq!(ended, Ended::Stopped);
        assert_eq!(n, 3); // 0 s, 10 s, 20 s
        assert_eq!(start.elapsed(), s(25));
    }
}
