//! The open model's step (constant-arrival-rate, ramping-arrival-rate, doubling): iteration
//! `n` is due at `start + N⁻¹(n)` (N the integral of the rate), whatever the target's latency,
//! and goes to an idle VU; VUs grow up to `maxVUs`, and an iteration that finds none is
//! dropped and counted.
//!
//! The loop runs on a VU thread (see [`Vus::home`]), not on the daemon's runtime. There, each
//! wake of the loop was a wake of the daemon's runtime and then of the VU thread it handed
//! iterations to: at 2,000/s against nginx on loopback, the loop's two threads took as much
//! CPU as the VU thread that made the requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::fine_sleep::FineSleep;
use crate::metrics::StepKey;
use crate::vu::{IterationStart, ScenarioRt, Shared, StepCtx, Vu};
use crate::vus::Vus;

/// The loop wakes at most once per this long; the iterations due meanwhile start together, up
/// to this late. Each wake costs a timer and a thread's sleep and wake-up. One 6 s run each
/// against nginx on loopback at 32,000 arrivals/s (2 vCPU VM, client on one core, the loop
/// then still on the daemon's runtime):
///
/// | wakes at most every | start lateness, median | client CPU a request |
/// |---|---|---|
/// | each arrival | 0.12 ms | 30.4 µs |
/// | 100 µs | 0.11 ms | 19.1 µs |
/// | 250 µs | 0.20 ms | 15.0 µs |
/// | 500 µs | 0.35 ms | 12.8 µs |
/// | tokio's 1 ms timer (before) | 0.74-0.76 ms | 10.6-11.3 µs |
///
/// At 2,000/s arrivals are 500 µs apart, so each gets its own wake whatever the bound.
const ARRIVAL_RESOLUTION: Duration = Duration::from_micros(250);

/// One open-model step, owned whole so that it can run on another runtime.
pub struct ArrivalStep {
    pub shared: Arc<Shared>,
    pub stop: CancellationToken,
    pub rt: Arc<ScenarioRt>,
    pub ctx: StepCtx,
    pub vus: Vus,
    /// Idle VUs of the scenario, taken before new ones are made.
    pub pool: Vec<Vu>,
    /// Rate per second at the start and at the end (linear in between).
    pub from: f64,
    pub to: f64,
    pub duration: Duration,
    pub pre_allocated: u64,
    pub max_vus: u64,
    pub graceful_stop: Duration,
}

/// What a finished step leaves: VU tasks still to collect by `hard`, and the pool.
pub struct ArrivalEnd {
    pub set: JoinSet<Box<Vu>>,
    pub pool: Vec<Vu>,
    pub hard: Instant,
}

impl ArrivalStep {
    /// Dispatches every iteration due in the step, then waits (up to the graceful stop) for
    /// those in flight and tells the VUs to end.
    pub async fn run(mut self) -> ArrivalEnd {
        let gauges = &self.shared.metrics.gauges[self.rt.idx as usize];
        let start = Instant::now();
        let hard = start + self.duration + self.graceful_stop;
        let done = CancellationToken::new();
        let busy = Arc::new(AtomicU64::new(0));
        // Idle VUs, each as the sender of its own one-slot job queue.
        let idle: Arc<Mutex<Vec<mpsc::Sender<Instant>>>> = Arc::default();
        let mut set = JoinSet::new();
        let spawn = |vu: Box<Vu>, set: &mut JoinSet<Box<Vu>>| {
            let (tx, mut rx) = mpsc::channel::<Instant>(1);
            let (sh, rt, done, idle, busy) = (
                Arc::clone(&self.shared),
                Arc::clone(&self.rt),
                done.clone(),
                Arc::clone(&idle),
                Arc::clone(&busy),
            );
            let ctx = self.ctx;
            let me = tx.clone();
            let id = vu.id;
            self.vus.spawn(set, id, async move {
                let mut vu = vu;
                loop {
                    let intended = tokio::select! {
                        biased;
                        j = rx.recv() => match j { Some(j) => j, None => break },
                        _ = done.cancelled() => break,
                    };
                    busy.fetch_add(1, Ordering::Relaxed);
                    sh.metrics.gauges[rt.idx as usize]
                        .vus
                        .fetch_add(1, Ordering::Relaxed);
                    vu.iteration(&sh, &rt, ctx, IterationStart::Intended(intended), hard)
                        .await;
                    sh.metrics.gauges[rt.idx as usize]
                        .vus
                        .fetch_sub(1, Ordering::Relaxed);
                    busy.fetch_sub(1, Ordering::Relaxed);
                    idle.lock().expect("idle").push(me.clone());
                }
                vu
            });
            tx
        };
        let ready: Vec<_> = (0..self.pre_allocated)
            .map(|_| spawn(self.vus.take(&mut self.pool), &mut set))
            .collect();
        idle.lock().expect("idle").extend(ready);
        let mut allocated = self.pre_allocated;
        gauges.vus_max.fetch_max(allocated, Ordering::Relaxed);
        gauges.set_rate(self.from);

        let slope = if self.duration.is_zero() {
            0.0
        } else {
            (self.to - self.from) / self.duration.as_secs_f64()
        };
        let mut n: u64 = 0;
        let mut dropped = 0u64;
        let mut last_rate_update = start;
        let mut sleep = FineSleep::new();
        let mut last_wake = start;
        while let Some(t) = nth_start(n as f64, self.from, slope) {
            if t >= self.duration.as_secs_f64() || self.stop.is_cancelled() {
                break;
            }
            let at = start + Duration::from_secs_f64(t);
            if at > Instant::now() {
                let wake = at.max(last_wake + ARRIVAL_RESOLUTION);
                tokio::select! {
                    _ = sleep.until(wake) => {}
                    _ = self.stop.cancelled() => break,
                }
                last_wake = Instant::now();
            }
            if at.duration_since(last_rate_update) >= Duration::from_millis(200) {
                gauges.set_rate(self.from + slope * t);
                last_rate_update = at;
            }
            let mut free = idle.lock().expect("idle").pop();
            if free.is_none() && allocated >= self.max_vus {
                // A VU whose response has come is free in all but name until its task runs,
                // and on this thread that is only when this loop yields: let it, once, before
                // an iteration is dropped (after a stall the loop wakes to a backlog, and the
                // responses that came meanwhile are waiting behind it).
                tokio::task::yield_now().await;
                free = idle.lock().expect("idle").pop();
            }
            let sent = match free {
                Some(tx) => tx.try_send(at).is_ok(),
                None if allocated < self.max_vus => {
                    allocated += 1;
                    gauges.vus_max.fetch_max(allocated, Ordering::Relaxed);
                    let tx = spawn(self.vus.take(&mut self.pool), &mut set);
                    tx.try_send(at).is_ok()
                }
                None => false,
            };
            if !sent {
                dropped += 1;
                if dropped.is_power_of_two() {
                    // How late this iteration's dispatch is: near ARRIVAL_RESOLUTION or less, the
                    // VUs were all busy on the target; milliseconds more, the machine ran the
                    // loop late (a stall) and its backlog found too few idle VUs.
                    let late = Instant::now().saturating_duration_since(at);
                    let arrival_late_ms = late.as_micros() as f64 / 1000.0;
                    tracing::warn!(scenario = %self.rt.name, dropped, vus = allocated, arrival_late_ms, "no free VU: iterations dropped (raise maxVUs)");
                }
                if self.ctx.recording {
                    self.shared.metrics.with(|s| {
                        s.step(StepKey {
                            scenario: self.rt.idx,
                            step: self.ctx.step,
                        })
                        .dropped += 1
                    });
                }
            }
            n += 1;
        }
        gauges.set_rate(0.0);
        // Let in-flight iterations finish within the graceful stop, then stop the VUs.
        while busy.load(Ordering::Relaxed) > 0 && Instant::now() < hard {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        done.cancel();
        idle.lock().expect("idle").clear();
        ArrivalEnd {
            set,
            pool: self.pool,
            hard,
        }
    }
}

/// When iteration `n` (0-based) starts, in seconds from the step start, for a rate moving
/// linearly from `from` with `slope` per second; `None` when the rate never gets there.
pub fn nth_start(n: f64, from: f64, slope: f64) -> Option<f64> {
    if n == 0.0 {
        return Some(0.0);
    }
    if slope.abs() < 1e-12 {
        return (from > 0.0).then(|| n / from);
    }
    let disc = from * from + 2.0 * slope * n;
    if disc < 0.0 {
        return None;
    }
    let t = (-from + disc.sqrt()) / slope;
    (t >= 0.0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_start_constant_and_ramping() {
        assert_eq!(nth_start(10.0, 5.0, 0.0), Some(2.0));
        assert_eq!(nth_start(0.0, 0.0, 0.0), Some(0.0));
        assert_eq!(nth_start(1.0, 0.0, 0.0), None);
        // Ramp 0 → 10/s over 10 s: 50 iterations in total, the 50th at t = 10 s.
        let t = nth_start(50.0, 0.0, 1.0).unwrap();
        assert!((t - 10.0).abs() < 1e-9, "{t}");
        // Ramp down 10 → 0 over 10 s: never reaches iteration 51.
        assert!(nth_start(51.0, 10.0, -1.0).is_none());
    }
}
