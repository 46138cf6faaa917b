//! Executors. Closed models run VU loops; open models hand each iteration to an idle VU when
//! it is due (`arrival.rs`). Steps run one after another with settle and cooldown; scenarios run
//! side by side from their `startTime`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::arrival::ArrivalStep;
use crate::plan::{Load, ScenarioPlan, StepPlan, lerp};
use crate::vu::{IterationStart, ScenarioRt, Shared, StepCtx, Vu};
use crate::vus::Vus;

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
    /// Where VUs come from and where their tasks run (without VU threads, on the caller's
    /// runtime).
    pub vus: Vus,
}

impl Engine {
    pub fn new(shared: Arc<Shared>, stop: CancellationToken) -> Self {
        Self {
            shared,
            stop,
            timings: Arc::default(),
            boundaries: None,
            vus: Vus::default(),
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
            let mut vu = self.vus.take(run.pool);
            let mut more = make(i);
            let (sh, rt, stop) = (Arc::clone(&self.shared), Arc::clone(rt), self.stop.clone());
            let id = vu.id;
            self.vus.spawn(&mut set, id, async move {
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
            let mut vu = self.vus.take(run.pool);
            let (sh, rt, stop, mut rx) = (
                Arc::clone(&self.shared),
                Arc::clone(rt),
                self.stop.clone(),
                rx.clone(),
            );
            let id = vu.id;
            self.vus.spawn(&mut set, id, async move {
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

    /// constant-arrival-rate, ramping-arrival-rate, doubling: the step runs on the VU thread
    /// it feeds (see `arrival.rs`), and its VUs are collected here.
    async fn arrival(
        &self,
        run: StepRun<'_>,
        from: f64,
        to: f64,
        duration: Duration,
        pre_allocated: u64,
        max_vus: u64,
    ) {
        let step = ArrivalStep {
            shared: Arc::clone(&self.shared),
            stop: self.stop.clone(),
            rt: Arc::clone(run.rt),
            ctx: run.ctx,
            vus: self.vus.clone(),
            pool: std::mem::take(run.pool),
            from,
            to,
            duration,
            pre_allocated,
            max_vus,
            graceful_stop: run.plan.graceful_stop,
        };
        let end = match self.vus.home(&step.pool) {
            Some(home) => {
                // Dropped (the run abandoned), the step must not go on feeding VUs.
                match AbortOnDropHandle::new(home.spawn(step.run())).await {
                    Ok(end) => end,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => return,
                }
            }
            None => step.run().await,
        };
        *run.pool = end.pool;
        self.collect(end.set, end.hard, run.pool).await;
    }
}

/// What every executor's step runs with: its scenario, the scenario's plan, the step's
/// context and the pool its VUs come from and go back to.
struct StepRun<'a> {
    rt: &'a Arc<ScenarioRt>,
    plan: &'a ScenarioPlan,
    ctx: StepCtx,
    pool: &'a mut Vec<Vu>,
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
