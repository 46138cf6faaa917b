//! The lifecycle every daemon goes through: register metrics, start, work, finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use std::collections::HashMap;

use redline_remote_write::{
    RemoteWriter, Series, ShutdownReport, StatsSnapshot, now_millis, stale_nan,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::collect::{Collected, collect};
use crate::created;
use crate::{CommonArgs, RuntimeError, admin, signals};

/// Before `start`: metrics are registered into [`registry`](Self::registry).
pub struct Runtime {
    args: CommonArgs,
    daemon: &'static str,
    testid: String,
    registry: Registry,
    shutdown: CancellationToken,
    rw_config: Option<redline_remote_write::Config>,
    /// When the registry was made: no metric of it existed before (see crate::created).
    registered_ms: i64,
    wait_for_room: bool,
}

impl Runtime {
    /// Validates the common flags; nothing is started yet.
    pub fn new(args: &CommonArgs, daemon: &'static str) -> Result<Self, RuntimeError> {
        let testid = match &args.testid {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => format!("{daemon}-{}", now_millis() / 1000),
        };
        let rw_config = args.remote_write_config()?;
        if args.push_interval < Duration::from_millis(10) {
            return Err(RuntimeError::Flag {
                flag: "--push-interval",
                message: "must be at least 10ms".into(),
            });
        }
        // Every rule window (1 m, with rates needing 4+ samples) and every step's span
        // must hold several samples; past 15 s they do not.
        if args.push_interval > Duration::from_secs(15) {
            return Err(RuntimeError::Flag {
                flag: "--push-interval",
                message: format!(
                    "{} is longer than 15s: the alert rules' 1-minute windows would hold too few samples to judge; use 15s or less",
                    humantime::format_duration(args.push_interval)
                ),
            });
        }
        let registry =
            Registry::with_labels([("testid".into(), testid.clone().into())].into_iter());
        Ok(Self {
            registered_ms: now_millis(),
            args: args.clone(),
            daemon,
            testid,
            registry,
            shutdown: CancellationToken::new(),
            rw_config,
            wait_for_room: false,
        })
    }

    /// The push loop waits for room in a full queue instead of dropping (and counting) its
    /// samples: for a daemon that fills the queue with samples it keeps elsewhere when full
    /// (k6-relay's disk buffer), whose own series would otherwise be the ones lost in an
    /// outage. A waiting collection delays the next (its counters carry on), a collection
    /// still waiting at the stop is retried by the final one, and only what finds no room
    /// within the shutdown grace is dropped and counted.
    pub fn wait_for_queue_room(&mut self) {
        self.wait_for_room = true;
    }

    /// Where the daemon registers its metric families (`testid` is added to all).
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn testid(&self) -> &str {
        &self.testid
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Starts the admin server, the remote-write client and push loop, and the
    /// signal handler.
    pub async fn start(mut self) -> Result<Running, RuntimeError> {
        let writer = match self.rw_config.take() {
            Some(cfg) => {
                let url = cfg.url.clone();
                let stats = redline_remote_write::Stats::new();
                // The daemon's name tells its self-metrics from those of the run's other
                // daemons: they share testid and external labels, and two processes
                // writing one series get each other's samples refused as out of order.
                stats.register(
                    self.registry
                        .sub_registry_with_label(("daemon".into(), self.daemon.into())),
                );
                let w = RemoteWriter::start_with_stats(cfg, stats)?;
                tracing::info!(daemon = self.daemon, testid = %self.testid, remote_write = %url, "pushing samples via remote-write");
                Some(Arc::new(w))
            }
            None => None,
        };
        let registry = Arc::new(self.registry);
        let ready = Arc::new(AtomicBool::new(false));
        let admin = match self.args.admin_addr {
            Some(addr) => admin::serve(addr, registry.clone(), ready.clone()).await?,
            None => admin::serve_default(registry.clone(), ready.clone()).await?,
        };
        tracing::info!(daemon = self.daemon, testid = %self.testid, admin = %admin.addr, "serving /metrics, /ready, /live");
        let pusher = Arc::new(Pusher {
            registry: registry.clone(),
            writer: writer.clone(),
            state: Mutex::new(PushState {
                // So the series of the first collection count from the registry's creation.
                last_ts: self.registered_ms - 1,
                previous: HashMap::new(),
                pending: Vec::new(),
            }),
            wait_for_room: self.wait_for_room,
        });
        let push_stop = CancellationToken::new();
        let push_task = writer.as_ref().map(|_| {
            let pusher = pusher.clone();
            let stop = push_stop.clone();
            let every = self.args.push_interval;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => pusher.push(Until::Stopped(&stop)).await,
                        _ = stop.cancelled() => return,
                    }
                }
            })
        });
        let signals = signals::install(self.shutdown.clone(), self.args.shutdown_grace);
        Ok(Running {
            daemon: self.daemon,
            testid: self.testid,
            shutdown: self.shutdown,
            grace: self.args.shutdown_grace,
            ready,
            admin,
            pusher,
            writer,
            push_stop,
            push_task,
            signals,
        })
    }
}

struct Pusher {
    registry: Arc<Registry>,
    writer: Option<Arc<RemoteWriter>>,
    state: Mutex<PushState>,
    /// See [`Runtime::wait_for_queue_room`].
    wait_for_room: bool,
}

/// How long a collection waits for room in a full queue (with `wait_for_room`).
enum Until<'a> {
    /// A periodic push: until the push loop stops; what is left waits for the final push.
    Stopped(&'a CancellationToken),
    /// The final push: until the shutdown grace ends; what is left is dropped and counted.
    Deadline(Instant),
}

/// One sample the push loop queues.
enum Op {
    Float(Series, i64, f64),
    Histogram(Series, redline_remote_write::prompb::Histogram),
    NativeBesideClassic(Series, redline_remote_write::prompb::Histogram),
}

impl Op {
    /// Queues it; a full queue counts a drop.
    fn push(self, w: &RemoteWriter) {
        match self {
            Op::Float(s, ts, v) => w.push(&s, ts, v),
            Op::Histogram(s, h) => w.push_histogram(&s, h),
            Op::NativeBesideClassic(s, h) => w.push_native_beside_classic(&s, h),
        };
    }

    /// Queues a copy if there is room; false (nothing counted) when the queue is full.
    fn try_push(&self, w: &RemoteWriter) -> bool {
        match self {
            Op::Float(s, ts, v) => w.try_push(s, *ts, *v),
            Op::Histogram(s, h) => w.try_push_histogram(s, h.clone()),
            Op::NativeBesideClassic(s, h) => w.try_push_native_beside_classic(s, h.clone()),
        }
    }
}

/// What the previous collection wrote, so a series that disappears from the
/// registry (a finished step's gauges, say) is marked stale at once, as
/// Prometheus' own scrape loop does, instead of lingering for the 5-minute lookback.
struct PushState {
    /// The previous collection's time (at first, 1 ms before the registry's creation).
    last_ts: i64,
    previous: HashMap<Series, Pushed>,
    /// Samples of a collection that was still waiting for room when the push loop
    /// stopped (with `wait_for_room`): queued first by the final push.
    pending: Vec<Op>,
}

/// What a series was pushed as, so its staleness marker is of the same kind.
#[derive(Clone, Copy)]
enum Pushed {
    Float,
    Histogram,
    /// A native histogram beside its classic buckets: its marker is left out where the
    /// receiver refuses native histograms, since the classic series get their own.
    NativeBesideClassic,
}

impl Pusher {
    /// One collection, all at one timestamp, strictly after the previous one so
    /// no series ever gets two samples at the same instant.
    async fn push(&self, until: Until<'_>) {
        let Some(w) = &self.writer else { return };
        let mut state = self.state.lock().await;
        let absent_at = state.last_ts;
        // Later than absent_at + 1, the created time of a series new in this collection:
        // Prometheus writes a created time's zero only before the series' first sample.
        let ts = now_millis().max(absent_at + 2);
        state.last_ts = ts;
        let samples = match collect(&self.registry, ts) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "collecting metrics failed; nothing pushed this interval");
                return;
            }
        };
        let mut ops = std::mem::take(&mut state.pending);
        let mut current = HashMap::with_capacity(samples.len());
        let stamp = |series| created::stamp(series, &state.previous, absent_at, ts);
        for s in samples {
            match s {
                Collected::Float(series, v) => {
                    let series = stamp(series);
                    current.insert(series.clone(), Pushed::Float);
                    ops.push(Op::Float(series, ts, v));
                }
                Collected::Histogram(series, h) => {
                    let series = stamp(series);
                    current.insert(series.clone(), Pushed::Histogram);
                    ops.push(Op::Histogram(series, *h));
                }
                // Its classic buckets went as floats: no need to push what the receiver refuses.
                Collected::NativeBesideClassic(_, _) if !w.takes_native_histograms() => {}
                Collected::NativeBesideClassic(series, h) => {
                    let series = stamp(series);
                    current.insert(series.clone(), Pushed::NativeBesideClassic);
                    ops.push(Op::NativeBesideClassic(series, *h));
                }
            }
        }
        for (gone, pushed) in state
            .previous
            .iter()
            .filter(|(s, _)| !current.contains_key(*s))
        {
            let marker = redline_remote_write::prompb::Histogram {
                sum: stale_nan(),
                timestamp: ts,
                ..Default::default()
            };
            ops.push(match pushed {
                Pushed::Float => Op::Float(gone.clone(), ts, stale_nan()),
                Pushed::Histogram => Op::Histogram(gone.clone(), marker),
                Pushed::NativeBesideClassic => Op::NativeBesideClassic(gone.clone(), marker),
            });
        }
        state.previous = current;
        if self.wait_for_room {
            state.pending = Self::queue_waiting(w, ops, until).await;
        } else {
            for op in ops {
                op.push(w);
            }
        }
    }

    /// Queues `ops` in order as room frees (looking every 20 ms: the writer has no signal
    /// for it); returns what is left when a periodic push is stopped. Stops at the first
    /// refusal, so no sample of a series is queued ahead of an older one still waiting.
    async fn queue_waiting(w: &RemoteWriter, mut ops: Vec<Op>, until: Until<'_>) -> Vec<Op> {
        loop {
            let queued = ops.iter().take_while(|op| op.try_push(w)).count();
            ops.drain(..queued);
            if ops.is_empty() {
                return ops;
            }
            let pause = Duration::from_millis(20);
            match until {
                Until::Stopped(stop) => tokio::select! {
                    _ = stop.cancelled() => return ops,
                    _ = tokio::time::sleep(pause) => {}
                },
                Until::Deadline(at) => {
                    let now = Instant::now();
                    if now >= at {
                        tracing::warn!(
                            samples = ops.len(),
                            "the queue had no room for the final collection within the shutdown grace"
                        );
                        for op in ops {
                            op.push(w);
                        }
                        return Vec::new();
                    }
                    tokio::time::sleep(pause.min(at - now)).await;
                }
            }
        }
    }
}

/// After `start`: the daemon works, then calls [`finish`](Self::finish).
pub struct Running {
    daemon: &'static str,
    testid: String,
    shutdown: CancellationToken,
    grace: Duration,
    ready: Arc<AtomicBool>,
    admin: admin::Admin,
    pusher: Arc<Pusher>,
    writer: Option<Arc<RemoteWriter>>,
    push_stop: CancellationToken,
    push_task: Option<tokio::task::JoinHandle<()>>,
    signals: tokio::task::JoinHandle<()>,
}

/// What happened to the samples at the end.
#[derive(Debug, Clone, Default)]
pub struct FinishReport {
    /// None in scrape-only mode.
    pub remote_write: Option<ShutdownReport>,
    pub stats: Option<StatsSnapshot>,
}

impl Running {
    /// Cancelled on SIGINT/SIGTERM; a daemon may cancel it too.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.addr
    }

    pub fn testid(&self) -> &str {
        &self.testid
    }

    /// What `/ready` answers.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Collects and enqueues now, e.g. at a step boundary so the step's last
    /// values are not left to the next tick.
    pub async fn push_now(&self) {
        self.pusher.push(Until::Stopped(&self.push_stop)).await;
    }

    /// The remote writer, for daemons that forward raw series (k6-relay). Drop
    /// every clone before [`finish`](Self::finish).
    pub fn remote_writer(&self) -> Option<Arc<RemoteWriter>> {
        self.writer.clone()
    }

    pub fn remote_write_stats(&self) -> Option<StatsSnapshot> {
        self.writer.as_ref().map(|w| w.stats().snapshot())
    }

    /// Final collection and push, flush within the grace period, staleness
    /// markers, admin server stopped.
    pub async fn finish(self) -> Result<FinishReport, RuntimeError> {
        let grace = self.grace;
        self.finish_within(grace).await
    }

    /// As [`finish`](Self::finish), for a daemon that spent part of the grace on its own
    /// shutdown work (k6-relay replaying its disk buffer): the final push and the flush
    /// share `grace`, so the whole stop stays within the one the signal handler allows.
    pub async fn finish_within(self, grace: Duration) -> Result<FinishReport, RuntimeError> {
        let end = Instant::now() + grace;
        self.ready.store(false, Ordering::Relaxed);
        self.push_stop.cancel();
        if let Some(t) = self.push_task {
            let _ = t.await;
        }
        self.pusher.push(Until::Deadline(end)).await;
        let mut report = FinishReport::default();
        let writer = self.writer;
        drop(self.pusher);
        if let Some(w) = writer {
            let w = Arc::try_unwrap(w).map_err(|_| RuntimeError::WriterStillShared)?;
            let stats = w.stats().clone();
            let r = w
                .shutdown(end.saturating_duration_since(Instant::now()))
                .await;
            let snap = stats.snapshot();
            tracing::info!(
                sent = snap.sent + snap.sent_histograms,
                dropped = snap.dropped(),
                stale_markers = r.stale_markers,
                completed = r.completed,
                "remote-write finished"
            );
            if let Some(line) = crate::lost::lost_line(&snap) {
                crate::lost::record(snap.dropped());
                eprintln!("redline {}: {line}", self.daemon);
            }
            report.remote_write = Some(r);
            report.stats = Some(snap);
        }
        self.admin.stop.cancel();
        let _ = self.admin.task.await;
        self.signals.abort();
        Ok(report)
    }
}
