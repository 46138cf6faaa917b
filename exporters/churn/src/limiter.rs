//! Client-side request rate limit: a token bucket of `burst` tokens refilled at `qps`.
//!
//! A caller takes its token at once and, when the bucket is in debt, sleeps until its
//! token would have been refilled; callers are served in the order they asked, and a
//! burst of scale events spreads out at exactly `qps` instead of hammering the API
//! server (the same contract as client-go's `--kube-api-qps/--kube-api-burst`).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// How long the caller must wait for its token (the token is taken now).
    fn reserve(&self) -> Duration {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, last) = *g;
        let refilled = (tokens + now.duration_since(last).as_secs_f64() * self.qps).min(self.burst);
        let left = refilled - 1.0;
        *g = (left, now);
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.qps)
        }
    }

    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_qps() {
        let l = RateLimiter::new(10.0, 5);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..8 {
            l.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, [0, 0, 0, 0, 0, 100, 200, 300]);
        // Idle time refills up to the burst, not beyond.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t = Instant::now();
        for _ in 0..6 {
            l.acquire().await;
        }
        assert_eq!(t.elapsed().as_millis(), 100);
    }
}
