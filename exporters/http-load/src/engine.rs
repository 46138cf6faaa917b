//! Executors. Closed models run VU loops; open models compute intended start times
//! `start + N⁻¹(n)` (N the integral of the rate) and hand each iteration to an idle VU, growing
//! VUs up to `maxVUs` and dropping (and counting) iterations when none is left. Steps run one
//! after another with settle and cooldown; scenarios run side by side from their `startTime`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::fine_sleep::FineSleep;
use crate::metrics::StepKey;
use crate::plan::{Load, ScenarioPlan, StepPlan, lerp};
use crate::vu::{IterationStart, ScenarioRt, Shared, StepCtx, Vu};
use crate::workers::Workers;

/// When each step ran (for the summary's actual RPS).
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub scenario: u16,
    pub step: u16,
    pub start: Instant,
    pub end: Instant,
}

/// Now as Unix seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub struct Engine {
    pub shared: Arc<Shared>,
    pub stop: CancellationToken,
    pub timings: Arc<Mutex<Vec<StepTiming>>>,
    /// Told at every step boundary (the daemon pushes then).
    pub boundaries: Option<mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>>,
    /// Where VU tasks run; `None` runs them on the caller's runtime.
    pub workers: Option<Arc<Workers>>,
    next_vu: Arc<AtomicU64>,
}

impl Engine {
    pub fn new(shared: Arc<Shared>, stop: CancellationToken) -> Self {
        Self {
            shared,
            stop,
            timings: Arc::default(),
            boundaries: None,
            workers: None,
            next_vu: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Runs every scenario to its end (or until `stop`).
    pub async fn run(&self, scenarios: Vec<(Arc<ScenarioRt>, ScenarioPlan)>) {
        let runs = scenarios
            .into_iter()
            .map(|(rt, plan)| self.scenario(rt, plan));
        futures::future::join_all(runs).await;
    }

    async fn scenario(&self, rt: Arc<ScenarioRt>, plan: ScenarioPlan) {
        if !plan.start_time.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(plan.start_time) => {}
                _ = self.stop.cancelled() => return,
            }
        }
        let gauges = &self.shared.metrics.gauges[rt.idx as usize];
        let mut pool: Vec<Vu> = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            if self.stop.is_cancelled() {
                break;
            }
            let ctx = StepCtx {
                step: i as u16,
                recording: true,
            };
            if !plan.settle.is_zero() {
                let settle = settle_load(&step.load, plan.settle);
                let quiet = StepCtx {
                    recording: false,
                    ..ctx
                };
                self.step(&rt, &plan, &settle, quiet, &mut pool).await;
            }
            gauges.step.store(i, Ordering::Relaxed);
            let start = Instant::now();
            // Wall-clock start, and the end as start + the monotonic span, so the pushed
            // span equals the summary's to the nanosecond.
            let start_unix = unix_now();
            gauges.step_started(i as u16, start_unix);
            self.step(&rt, &plan, &step.load, ctx, &mut pool).await;
            let end = Instant::now();
            gauges.step_ended(i as u16, start_unix + (end - start).as_secs_f64());
            self.timings.lock().expect("timings").push(StepTiming {
                scenario: rt.idx,
                step: i as u16,
                start,
                end,
            });
            gauges.vus.store(0, Ordering::Relaxed);
            gauges.set_rate(0.0);
            // The push at a step's end carries its final figures and its level. Wait for it:
            // the level is written only while the step index is set, and the last step's is
            // cleared below; a run shorter than one push interval would otherwise race that
            // push and never write its level (seen under load with one-step sweep runs).
            if let Some(b) = &self.boundaries {
                let (pushed, done) = tokio::sync::oneshot::channel();
                if b.send(pushed).is_ok() {
                    let _ = done.await;
                }
            }
            let last = i + 1 == plan.steps.len();
            if !last && !plan.cooldown.is_zero() {
                gauges.step.store(usize::MAX, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(plan.cooldown) => {}
                    _ = self.stop.cancelled() => {}
                }
            }
        }
        gauges.step.store(usize::MAX, Ordering::Relaxed);
    }

    /// Spawns VU `vu`'s task on its worker thread (or here, without workers).
    fn spawn_vu<F>(&self, set: &mut JoinSet<Box<Vu>>, vu: u64, task: F)
    where
        F: std::future::Future<Output = Box<Vu>> + Send + 'static,
    {
        match &self.workers {
            Some(w) => w.spawn_into(set, vu, task),
            None => {
                set.spawn(task);
            }
        }
    }

    /// A VU from `pool`, or a new one, boxed for its task: a task's output is moved out of
    /// every poll of the task by tokio (its `Poll<Output>`), and a VU is 1.7 KB: returned
    /// inline, that was two memmoves of it per request, ~400 instructions.
    fn take_vu(&self, pool: &mut Vec<Vu>) -> Box<Vu> {
        Box::new(
            pool.pop()
                .unwrap_or_else(|| Vu::new(self.next_vu.fetch_add(1, Ordering::Relaxed))),
        )
    }

    async fn step(
        &self,
        rt: &Arc<ScenarioRt>,
        plan: &ScenarioPlan,
        load: &Load,
        ctx: StepCtx,
        pool: &mut Vec<Vu>,
    ) {
        let run = StepRun {
            rt,
            plan,
            ctx,
            pool,
        };
        match load {
            Load::SharedIterations {
                vus,
                iterations,
                max_duration,
            } => {
                let left = Arc::new(AtomicU64::new(*iterations));
                self.closed(run, *vus, *max_duration, move |_| {
                    let left = Arc::clone(&left);
                    move || {
                        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                            n.checked_sub(1)
                        })
                        .is_ok()
                    }
                })
                .await
            }
            Load::PerVuIterations {
                vus,
                iterations,
                max_duration,
            } => {
                let n = *iterations;
                self.closed(run, *vus, *max_duration, move |_| {
                    let mut done = 0u64;
                    move || {
                        done += 1;
                        done <= n
                    }
                })
                .await
            }
            Load::Vus {
                from,
                to,
                duration,
                segment,
            } => self.ramping_vus(run, *from, *to, *duration, *segment).await,
            Load::Arrival {
                from,
                to,
                duration,
                pre_allocated_vus,
                max_vus,
            } => {
                self.arrival(run, *from, *to, *duration, *pre_allocated_vus, *max_vus)
                    .await
            }
        }
    }

    /// Iteration-count executors: `vus` loops, each asking `more()` before every iteration.
    async fn closed<F, M>(&self, run: StepRun<'_>, vus: u64, max_duration: Duration, mut make: M)
    where
        M: FnMut(u64) -> F,
        F: FnMut() -> bool + Send + 'static,
    {
        let (rt, ctx) = (run.rt, run.ctx);
        let gauges = &self.shared.metrics.gauges[rt.idx as usize];
        let deadline = Instant::now() + max_duration;
        gauges.vus.store(vus, Ordering::Relaxed);
        gauges.vus_max.fetch_max(vus, Ordering::Relaxed);
        let mut set = JoinSet::new();
        for i in 0..vus {
            let mut vu = self.take_vu(run.pool);
            let mut more = make(i);
            let (sh, rt, stop) = (Arc::clone(&self.shared), Arc::clone(rt), self.stop.clone());
            let id = vu.id;
            self.spawn_vu(&mut set, id, async move {
                loop {
                    let now = Instant::now();
                    if stop.is_cancelled() || now >= deadline || !more() {
                        break;
                    }
                    vu.iteration(&sh, &rt, ctx, IterationStart::Now(now), deadline)
                        .await;
                }
                vu
            });
        }
        self.collect(set, deadline + run.plan.graceful_stop, run.pool)
            .await;
    }

    /// Waits for VU tasks until `hard` (the graceful stop), then aborts the rest: their
    /// interrupted iterations are not recorded, like k6's.
    async fn collect(&self, mut set: JoinSet<Box<Vu>>, hard: Instant, pool: &mut Vec<Vu>) {
        loop {
            tokio::select! {
                r = set.join_next() => match r {
                    Some(Ok(vu)) => pool.push(*vu),
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(hard.into()) => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }

    /// constant-vus and ramping-vus: VU `i` runs while `i` < the (segment's share of the)
    /// target, which moves linearly across the step.
    async fn ramping_vus(
        &self,
        run: StepRun<'_>,
        from: f64,
        to: f64,
        duration: Duration,
        seg: crate::segment::Segment,
    ) {
        let (rt, ctx) = (run.rt, run.ctx);
        let gauges = &self.shared.metrics.gauges[rt.idx as usize];
        let start = Instant::now();
        let deadline = start + duration;
        let target_at =
            |t: Duration| seg.share(lerp(from, to, t, duration).floor().max(0.0) as u64);
        let max = seg.share(from.max(to).floor() as u64);
        let (tx, rx) = watch::channel(target_at(Duration::ZERO));
        gauges
            .vus
            .store(target_at(Duration::ZERO), Ordering::Relaxed);
        gauges.vus_max.fetch_max(max, Ordering::Relaxed);
        let mut set = JoinSet::new();
        for i in 0..max {
            let mut vu = self.take_vu(run.pool);
            let (sh, rt, stop, mut rx) = (
                Arc::clone(&self.shared),
                Arc::clone(rt),
                self.stop.clone(),
                rx.clone(),
            );
            let id = vu.id;
            self.spawn_vu(&mut set, id, async move {
                loop {
                    let now = Instant::now();
                    if stop.is_cancelled() || now >= deadline {
                        break;
                    }
                    if i >= *rx.borrow_and_update() {
                        tokio::select! {
                            _ = rx.changed() => {}
                            _ = tokio::time::sleep_until(deadline.into()) => {}
                            _ = stop.cancelled() => {}
                        }
                        continue;
                    }
                    vu.iteration(&sh, &rt, ctx, IterationStart::Now(now), deadline)
                        .await;
                }
                vu
            });
        }
        if from != to {
            // Re-evaluate the target often enough that a ramp is smooth at any VU count.
            let tick = Duration::from_millis(100);
            while Instant::now() < deadline && !self.stop.is_cancelled() {
                let t = target_at(start.elapsed());
                tx.send_if_modified(|v| std::mem::replace(v, t) != t);
                gauges.vus.store(t, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(tick.min(deadline.saturating_duration_since(Instant::now()))) => {}
                    _ = self.stop.cancelled() => {}
                }
            }
        }
        drop(tx);
        self.collect(set, deadline + run.plan.graceful_stop, run.pool)
            .await;
    }

    /// constant-arrival-rate, ramping-arrival-rate, doubling.
    async fn arrival(
        &self,
        run: StepRun<'_>,
        from: f64,
        to: f64,
        duration: Duration,
        pre: u64,
        max_vus: u64,
    ) {
        let (rt, ctx) = (run.rt, run.ctx);
        let gauges = &self.shared.metrics.gauges[rt.idx as usize];
        let start = Instant::now();
        let deadline = start + duration;
        let hard = deadline + run.plan.graceful_stop;
        let done = CancellationToken::new();
        let busy = Arc::new(AtomicU64::new(0));
        // Idle VUs, each as the sender of its own one-slot job queue.
        let idle: Arc<Mutex<Vec<mpsc::Sender<Instant>>>> = Arc::default();
        let mut set = JoinSet::new();
        let mut allocated = 0u64;
        let spawn = |vu: Box<Vu>, set: &mut JoinSet<Box<Vu>>| {
            let (tx, mut rx) = mpsc::channel::<Instant>(1);
            let (sh, rt, done, idle, busy) = (
                Arc::clone(&self.shared),
                Arc::clone(rt),
                done.clone(),
                Arc::clone(&idle),
                Arc::clone(&busy),
            );
            let me = tx.clone();
            let id = vu.id;
            self.spawn_vu(set, id, async move {
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
        {
            let mut stack = Vec::new();
            for _ in 0..pre {
                stack.push(spawn(self.take_vu(run.pool), &mut set));
            }
            allocated = allocated.max(pre);
            idle.lock().expect("idle").extend(stack);
        }
        gauges.vus_max.fetch_max(allocated, Ordering::Relaxed);
        gauges.set_rate(from);

        let slope = if duration.is_zero() {
            0.0
        } else {
            (to - from) / duration.as_secs_f64()
        };
        let mut n: u64 = 0;
        let mut dropped = 0u64;
        let mut last_rate_update = start;
        let mut sleep = FineSleep::new();
        let mut last_wake = start;
        // Time of iteration n: solve ∫0^t (from + slope·s) ds = n.
        while let Some(t) = nth_start(n as f64, from, slope) {
            if t >= duration.as_secs_f64() || self.stop.is_cancelled() {
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
                gauges.set_rate(from + slope * t);
                last_rate_update = at;
            }
            let free = idle.lock().expect("idle").pop();
            let sent = match free {
                Some(tx) => tx.try_send(at).is_ok(),
                None if allocated < max_vus => {
                    allocated += 1;
                    gauges.vus_max.fetch_max(allocated, Ordering::Relaxed);
                    let tx = spawn(self.take_vu(run.pool), &mut set);
                    tx.try_send(at).is_ok()
                }
                None => false,
            };
            if !sent {
                dropped += 1;
                if dropped.is_power_of_two() {
                    // How late this iteration's dispatch is: near ARRIVAL_RESOLUTION or less, the
                    // VUs were all busy on the target; milliseconds more, the machine ran the
                    // arrival loop late (a stall) and its backlog found too few idle VUs.
                    let late = Instant::now().saturating_duration_since(at);
                    let arrival_late_ms = late.as_micros() as f64 / 1000.0;
                    tracing::warn!(scenario = %rt.name, dropped, vus = allocated, arrival_late_ms, "no free VU: iterations dropped (raise maxVUs)");
                }
                if ctx.recording {
                    self.shared.metrics.with(|s| {
                        s.step(StepKey {
                            scenario: rt.idx,
                            step: ctx.step,
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
        self.collect(set, hard, run.pool).await;
    }
}

/// The arrival loop wakes at most once per this long; the iterations due meanwhile start
/// together, up to this late. Each wake costs a timer and a thread's sleep and wake-up. One 6 s
/// run each against nginx on loopback at 32,000 arrivals/s (2 vCPU VM, client on one core):
///
/// | wakes at most every | start lateness, median | client CPU a request |
/// |---|---|---|
/// | each arrival | 0.12 ms | 30.4 µs |
/// | 100 µs | 0.11 ms | 19.1 µs |
/// | 250 µs | 0.20 ms | 15.0 µs |
/// | 500 µs | 0.35 ms | 12.8 µs |
/// | tokio's 1 ms timer (before) | 0.74-0.76 ms | 10.6-11.3 µs |
///
/// At 2,000/s arrivals are 500 µs apart, so each gets its own wake whatever the bound: median
/// lateness 0.05-0.08 ms (0.64-0.81 ms on tokio's timer), for 92-113 µs of CPU a request
/// instead of 43-57 on this VM, where a sleep and wake-up costs far more than on bare metal.
const ARRIVAL_RESOLUTION: Duration = Duration::from_micros(250);

/// What every executor's step runs with: its scenario, the scenario's plan, the step's
/// context and the pool its VUs come from and go back to.
struct StepRun<'a> {
    rt: &'a Arc<ScenarioRt>,
    plan: &'a ScenarioPlan,
    ctx: StepCtx,
    pool: &'a mut Vec<Vu>,
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

/// A settle phase runs the step's level for `settle`, whatever the executor.
fn settle_load(load: &Load, settle: Duration) -> Load {
    match load {
        Load::SharedIterations { vus, .. } | Load::PerVuIterations { vus, .. } => Load::Vus {
            from: *vus as f64,
            to: *vus as f64,
            duration: settle,
            segment: crate::segment::Segment::WHOLE,
        },
        Load::Vus { from, segment, .. } => Load::Vus {
            from: *from,
            to: *from,
            duration: settle,
            segment: *segment,
        },
        Load::Arrival {
            from,
            pre_allocated_vus,
            max_vus,
            ..
        } => Load::Arrival {
            from: *from,
            to: *from,
            duration: settle,
            pre_allocated_vus: *pre_allocated_vus,
            max_vus: *max_vus,
        },
    }
}

/// The steps as the metrics' label table sees them.
pub fn step_labels(plan: &ScenarioPlan) -> Vec<crate::metrics::StepLabel> {
    plan.steps
        .iter()
        .map(|s: &StepPlan| crate::metrics::StepLabel {
            label: s.label.clone(),
            level: s.level,
            unit: s.unit.as_str().to_owned(),
        })
        .collect()
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
