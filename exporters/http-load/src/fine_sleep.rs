//! Sleeping until an open model's next arrival, to the microsecond.
//!
//! Why not `tokio::time::sleep_until`: tokio's timer wheel ticks in whole milliseconds and the
//! runtime parks in `epoll_wait`, whose timeout is in milliseconds too, so a sleep ends up to
//! ~2 ms after its deadline. An open model measures each request from its intended start (no
//! coordinated omission), so that lateness lands in `http_req_blocked` and
//! `http_req_duration`: measured against nginx on loopback at 2,000 arrivals/s, the median
//! request took 0.97 ms of which 0.82 ms was the timer and 0.13 ms the server.
//!
//! A `timerfd` armed for the deadline fires on the kernel's high-resolution timer and wakes the
//! same `epoll_wait` through the runtime's reactor, so the arrival loop stays an ordinary task
//! on its runtime. Elsewhere than Linux, or if the fd cannot be made, tokio's timer serves.

use std::time::Instant;

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    pub struct Timer(AsyncFd<OwnedFd>);

    impl Timer {
        /// Needs a runtime with IO enabled (the fd registers with its reactor).
        pub fn new() -> io::Result<Self> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            // SAFETY: an `OwnedFd` is a valid open fd, closed only when it is dropped, which is
            // when the `AsyncFd` that owns it is; `as_raw_fd` always returns that same fd.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?;
            Ok(Self(fd))
        }

        /// Arms the timer `wait` from now and waits for it to fire.
        pub async fn sleep(&mut self, wait: Duration) -> io::Result<()> {
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // A zero `it_value` disarms a timerfd: never arm it for less than a nanosecond.
            let wait = wait.max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: zero,
                it_value: Timespec {
                    tv_sec: wait.as_secs() as i64,
                    tv_nsec: wait.subsec_nanos() as _,
                },
            };
            timerfd_settime(self.0.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            loop {
                let mut ready = self.0.readable().await?;
                let mut expirations = [0u8; 8];
                match rustix::io::read(self.0.get_ref(), &mut expirations) {
                    Ok(_) => return Ok(()),
                    // Readiness left over from an earlier arming: wait for this one.
                    Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

/// A sleeper for one arrival loop: a timerfd where there is one, else tokio's timer.
pub struct FineSleep {
    #[cfg(target_os = "linux")]
    timer: Option<imp::Timer>,
}

impl FineSleep {
    /// Must be called on the runtime that will await [`FineSleep::until`].
    pub fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            timer: match imp::Timer::new() {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no timerfd: open-model arrivals use tokio's 1 ms timer");
                    None
                }
            },
        }
    }

    /// Returns at `at` or soon after (at once when `at` has passed).
    pub async fn until(&mut self, at: Instant) {
        #[cfg(target_os = "linux")]
        if let Some(t) = &mut self.timer {
            let wait = at.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return;
            }
            match t.sleep(wait).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "timerfd failed: open-model arrivals use tokio's 1 ms timer");
                    self.timer = None;
                }
            }
        }
        tokio::time::sleep_until(at.into()).await;
    }
}

impl Default for FineSleep {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The timerfd is what serves on Linux, and no sleep ends before its deadline (how much
    /// after is a figure for `hack/bench-http.sh --open-rate`, not a test).
    #[tokio::test]
    async fn sleeps_on_the_timerfd_and_never_wake_before_their_deadline() {
        let mut s = FineSleep::new();
        #[cfg(target_os = "linux")]
        assert!(s.timer.is_some(), "no timerfd on Linux");
        for i in 0..200u64 {
            let at = Instant::now() + Duration::from_micros(50 + (i % 7) * 37);
            s.until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woke {:?} before the deadline", at - now);
        }
        #[cfg(target_os = "linux")]
        assert!(s.timer.is_some(), "fell back to tokio's timer");
    }

    /// A passed deadline is ready on the first poll: no timer is armed for it.
    #[tokio::test]
    async fn a_deadline_already_passed_is_ready_at_once() {
        use futures::FutureExt;
        let mut s = FineSleep::new();
        let at = Instant::now();
        std::thread::sleep(Duration::from_micros(50));
        assert!(s.until(at).now_or_never().is_some());
    }
}
