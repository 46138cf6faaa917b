//! Polling with a deadline: a real cluster converges on its own schedule, so tests wait for
//! a state instead of sleeping a guessed time, and never wait forever.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often [`wait_until`] asks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Calls `check` every [`POLL_INTERVAL`] until it returns `Some`, and returns that value;
/// fails with [`Error::Timeout`] naming `what` once `timeout` has passed, also when one
/// call of `check` hangs. `check` runs at least once, even with a zero timeout.
pub async fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        // A check that hangs (a request the server never answers) must not outlive the
        // deadline either: it counts as "not yet" once the time is up.
        let left = timeout.saturating_sub(start.elapsed()).max(POLL_INTERVAL);
        if let Ok(Some(value)) = tokio::time::timeout(left, check()).await {
            return Ok(value);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                waited,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(timeout - waited)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_found() {
        let mut calls = 0;
        let value = wait_until("the third call", Duration::from_secs(5), async || {
            calls += 1;
            (calls == 3).then_some(calls * 10)
        })
        .await
        .unwrap();
        assert_eq!(value, 30);
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn times_out_naming_what_it_waited_for() {
        let mut calls = 0;
        let err = wait_until("nothing", Duration::from_millis(450), async || {
            calls += 1;
            None::<()>
        })
        .await
        .unwrap_err();
        assert!(
            err.to_string().starts_with("nothing: not done within"),
            "{err}"
        );
        // 0, 200, 400 ms and one last look at the deadline; never unbounded.
        assert!((3..=5).contains(&calls), "{calls} calls");
    }

    #[tokio::test]
    async fn a_hanging_check_does_not_outlive_the_deadline() {
        let start = Instant::now();
        let err = wait_until("a hung request", Duration::from_millis(300), async || {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Some(())
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}
