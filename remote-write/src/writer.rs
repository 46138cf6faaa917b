//! The sharded queue: producers push without ever waiting, one task per shard
//! batches, sends, retries, and at shutdown flushes and marks its series stale.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::encode::{Entry, compress, encode_write_request};
use crate::error::Error;
use crate::prompb::{Histogram, Label, Sample};
use crate::send::{Outcome, Sender};
use crate::series::{Series, stale_nan};
use crate::stats::{DropReason, Kind, Stats};

enum Value {
    Float(f64),
    Histogram(Box<Histogram>),
}

struct Item {
    series: Series,
    timestamp: i64,
    value: Value,
}

impl Item {
    fn kind(&self) -> Kind {
        match self.value {
            Value::Float(_) => Kind::Float,
            Value::Histogram(_) => Kind::Histogram,
        }
    }
}

impl Hash for Series {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(Series::hash(self));
    }
}

/// What [`RemoteWriter::shutdown`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShutdownReport {
    /// Series that got a staleness marker accepted by the receiver.
    pub stale_markers: u64,
    /// Samples given up at the deadline (queued or in a batch still failing).
    pub dropped_at_deadline: u64,
    pub elapsed: Duration,
    /// False when the deadline passed before everything was flushed.
    pub completed: bool,
}

/// A remote-write client. Cloneable handles are not offered on purpose: one owner
/// pushes and, at the end, shuts it down.
pub struct RemoteWriter {
    shards: Vec<mpsc::Sender<Item>>,
    stats: Stats,
    deadline: watch::Sender<Option<tokio::time::Instant>>,
    tasks: Vec<JoinHandle<ShardReport>>,
}

#[derive(Default)]
struct ShardReport {
    stale_markers: u64,
    dropped_at_deadline: u64,
    completed: bool,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl RemoteWriter {
    /// Starts the shard tasks. Must be called inside a tokio runtime.
    pub fn start(cfg: Config) -> Result<Self, Error> {
        Self::start_with_stats(cfg, Stats::new())
    }

    /// As [`start`](Self::start), counting into `stats` (already registered by the caller).
    pub fn start_with_stats(cfg: Config, stats: Stats) -> Result<Self, Error> {
        if cfg.shards == 0 || cfg.max_samples_per_send == 0 || cfg.queue_capacity < cfg.shards {
            return Err(Error::Config(
                "shards, max_samples_per_send and queue_capacity must be positive (capacity ≥ shards)".into(),
            ));
        }
        if !(cfg.url.starts_with("http://") || cfg.url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "remote-write URL {:?} must start with http:// or https://",
                cfg.url
            )));
        }
        let external: Arc<[Label]> = cfg
            .external_labels
            .iter()
            .map(|(k, v)| {
                Series::new("x", [(k.as_str(), v.as_str())])?;
                Ok(Label {
                    name: k.clone(),
                    value: v.clone(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?
            .into();
        let sender = Arc::new(Sender::new(&cfg)?);
        let per_shard = cfg.queue_capacity / cfg.shards;
        stats.queue_capacity.set((per_shard * cfg.shards) as i64);
        let (deadline, deadline_rx) = watch::channel(None);
        let mut shards = Vec::with_capacity(cfg.shards);
        let mut tasks = Vec::with_capacity(cfg.shards);
        for _ in 0..cfg.shards {
            let (tx, rx) = mpsc::channel(per_shard);
            shards.push(tx);
            let shard = Shard {
                rx,
                sender: sender.clone(),
                stats: stats.clone(),
                external: external.clone(),
                deadline: deadline_rx.clone(),
                known: HashMap::new(),
                max_samples: cfg.max_samples_per_send,
                batch_deadline: cfg.batch_send_deadline,
                min_backoff: cfg.min_backoff,
                max_backoff: cfg.max_backoff,
                staleness: cfg.staleness_markers,
                raw: Vec::new(),
                compressed: Vec::new(),
                encoder: snap::raw::Encoder::new(),
            };
            tasks.push(tokio::spawn(shard.run()));
        }
        Ok(Self {
            shards,
            stats,
            deadline,
            tasks,
        })
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn enqueue(&self, item: Item, count_drop: bool) -> bool {
        let kind = item.kind();
        let shard = self.shard_of(&item.series);
        match self.shards[shard].try_send(item) {
            Ok(()) => {
                self.stats.queue_length.inc();
                true
            }
            Err(_) => {
                if count_drop {
                    self.stats.dropped(kind, DropReason::QueueFull, 1);
                }
                false
            }
        }
    }

    fn shard_of(&self, series: &Series) -> usize {
        (series.hash() % self.shards.len() as u64) as usize
    }

    /// Free places in the queue of the shard `series` maps to.
    pub fn room(&self, series: &Series) -> usize {
        self.shards[self.shard_of(series)].capacity()
    }

    /// As [`push`](Self::push), but a full queue is not counted as a drop: for a
    /// caller that keeps the sample itself (k6-relay spills it to disk).
    pub fn try_push(&self, series: &Series, timestamp_ms: i64, value: f64) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: timestamp_ms,
                value: Value::Float(value),
            },
            false,
        )
    }

    /// As [`push_histogram`](Self::push_histogram), without counting a refusal as a drop.
    pub fn try_push_histogram(&self, series: &Series, histogram: Histogram) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: histogram.timestamp,
                value: Value::Histogram(Box::new(histogram)),
            },
            false,
        )
    }

    /// Queues one float sample. Never waits: returns false (and counts the drop)
    /// when the queue is full.
    pub fn push(&self, series: &Series, timestamp_ms: i64, value: f64) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: timestamp_ms,
                value: Value::Float(value),
            },
            true,
        )
    }

    /// Queues one native-histogram sample (its `timestamp` field is used).
    pub fn push_histogram(&self, series: &Series, histogram: Histogram) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: histogram.timestamp,
                value: Value::Histogram(Box::new(histogram)),
            },
            true,
        )
    }

    /// Flushes everything queued, retrying until `grace` has passed, then writes a
    /// staleness marker for every series written, so dashboards and `absent()`
    /// alerts see the run end instead of holding the last value for 5 minutes.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        let started = Instant::now();
        let _ = self
            .deadline
            .send(Some(tokio::time::Instant::now() + grace));
        drop(self.shards);
        let mut report = ShutdownReport {
            completed: true,
            ..Default::default()
        };
        for t in self.tasks {
            if let Ok(r) = t.await {
                report.stale_markers += r.stale_markers;
                report.dropped_at_deadline += r.dropped_at_deadline;
                report.completed &= r.completed;
            }
        }
        report.elapsed = started.elapsed();
        if report.dropped_at_deadline > 0 {
            tracing::warn!(
                dropped = report.dropped_at_deadline,
                grace = ?grace,
                "remote-write: samples still unsent at the shutdown deadline were dropped"
            );
        }
        report
    }
}

struct Known {
    wire: Series,
    last_ts: i64,
    kind: Kind,
}

struct Shard {
    rx: mpsc::Receiver<Item>,
    sender: Arc<Sender>,
    stats: Stats,
    external: Arc<[Label]>,
    deadline: watch::Receiver<Option<tokio::time::Instant>>,
    /// Every series this shard has written, with its newest timestamp: to refuse
    /// samples Prometheus would reject (and with them the whole request), and to
    /// know what to mark stale at the end.
    known: HashMap<Series, Known>,
    max_samples: usize,
    batch_deadline: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    staleness: bool,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    encoder: snap::raw::Encoder,
}

/// Samples of one batch, grouped per series in arrival order.
#[derive(Default)]
struct Batch {
    index: HashMap<u64, usize>,
    entries: Vec<(Series, Vec<Sample>, Vec<Histogram>)>,
    floats: u64,
    histograms: u64,
    newest_ts: i64,
}

impl Batch {
    fn len(&self) -> usize {
        (self.floats + self.histograms) as usize
    }
    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.floats = 0;
        self.histograms = 0;
        self.newest_ts = 0;
    }
    fn add(&mut self, wire: &Series, ts: i64, value: Value) {
        let i = *self.index.entry(wire.hash()).or_insert_with(|| {
            self.entries.push((wire.clone(), Vec::new(), Vec::new()));
            self.entries.len() - 1
        });
        self.newest_ts = self.newest_ts.max(ts);
        match value {
            Value::Float(v) => {
                self.floats += 1;
                self.entries[i].1.push(Sample {
                    value: v,
                    timestamp: ts,
                });
            }
            Value::Histogram(h) => {
                self.histograms += 1;
                self.entries[i].2.push(*h);
            }
        }
    }
}

impl Shard {
    async fn run(mut self) -> ShardReport {
        let mut batch = Batch::default();
        let mut buf = Vec::with_capacity(self.max_samples);
        let mut report = ShardReport {
            completed: true,
            ..Default::default()
        };
        let mut closed = false;
        while !closed {
            buf.clear();
            if self.rx.recv_many(&mut buf, self.max_samples).await == 0 {
                break;
            }
            let flush_at = tokio::time::Instant::now() + self.batch_deadline;
            self.accept(&mut buf, &mut batch);
            while batch.len() < self.max_samples {
                buf.clear();
                let want = self.max_samples - batch.len();
                tokio::select! {
                    n = self.rx.recv_many(&mut buf, want) => {
                        if n == 0 { closed = true; break; }
                        self.accept(&mut buf, &mut batch);
                    }
                    _ = tokio::time::sleep_until(flush_at) => break,
                }
            }
            if batch.len() > 0 && !self.send(&batch).await {
                report.completed = false;
                report.dropped_at_deadline += batch.len() as u64;
            }
            batch.clear();
        }
        // The channel is closed and drained (or we are past the deadline).
        report.dropped_at_deadline += self.drop_rest();
        if self.staleness && report.completed {
            report.stale_markers = self.mark_stale().await;
            if report.stale_markers < self.known.len() as u64 {
                report.completed = false;
            }
        }
        report
    }

    fn accept(&mut self, items: &mut Vec<Item>, batch: &mut Batch) {
        self.stats.queue_length.dec_by(items.len() as i64);
        for item in items.drain(..) {
            let kind = item.kind();
            let known = match self.known.get_mut(&item.series) {
                Some(k) => k,
                None => {
                    let wire = item.series.with_defaults(&self.external);
                    self.known.entry(item.series.clone()).or_insert(Known {
                        wire,
                        last_ts: i64::MIN,
                        kind,
                    })
                }
            };
            if item.timestamp <= known.last_ts {
                self.stats.dropped(kind, DropReason::OutOfOrder, 1);
                continue;
            }
            known.last_ts = item.timestamp;
            known.kind = kind;
            batch.add(&known.wire, item.timestamp, item.value);
        }
    }

    /// Counts and discards what is still queued; only reached after the deadline
    /// when a send gave up, otherwise the queue is already empty.
    fn drop_rest(&mut self) -> u64 {
        let mut n = 0;
        while let Ok(item) = self.rx.try_recv() {
            self.stats.queue_length.dec();
            self.stats
                .dropped(item.kind(), DropReason::ShutdownDeadline, 1);
            n += 1;
        }
        n
    }

    async fn mark_stale(&mut self) -> u64 {
        let now = crate::writer::now_ms();
        let mut batch = Batch::default();
        let mut written = 0;
        let known: Vec<_> = self
            .known
            .values()
            .map(|k| (k.wire.clone(), (k.last_ts + 1).max(now), k.kind))
            .collect();
        for chunk in known.chunks(self.max_samples) {
            batch.clear();
            for (wire, ts, kind) in chunk {
                let v = match kind {
                    Kind::Float => Value::Float(stale_nan()),
                    // A native-histogram series ends with a histogram whose sum is
                    // StaleNaN, as Prometheus' own scrape loop writes it.
                    Kind::Histogram => Value::Histogram(Box::new(Histogram {
                        sum: stale_nan(),
                        timestamp: *ts,
                        ..Default::default()
                    })),
                };
                batch.add(wire, *ts, v);
            }
            if self.send(&batch).await {
                written += chunk.len() as u64;
            } else {
                break;
            }
        }
        written
    }

    /// Sends one batch, retrying what can be retried. False when it was given up
    /// at the shutdown deadline (counted by the caller's report).
    async fn send(&mut self, batch: &Batch) -> bool {
        let entries: Vec<Entry<'_>> = batch
            .entries
            .iter()
            .map(|(s, f, h)| Entry {
                series: s,
                samples: f,
                histograms: h,
            })
            .collect();
        self.raw.clear();
        encode_write_request(&entries, &mut self.raw);
        compress(&self.raw, &mut self.encoder, &mut self.compressed);
        let body = Bytes::copy_from_slice(&self.compressed);

        let mut backoff = self.min_backoff;
        let mut failures = 0u32;
        loop {
            let deadline = *self.deadline.borrow();
            let started = Instant::now();
            let outcome = match deadline {
                Some(d) => match tokio::time::timeout_at(d, self.sender.send(body.clone())).await {
                    Ok(o) => o,
                    Err(_) => Outcome::Retry {
                        after: None,
                        cause: "shutdown deadline reached during the request".into(),
                    },
                },
                None => self.sender.send(body.clone()).await,
            };
            self.stats
                .send_duration
                .observe(started.elapsed().as_secs_f64());
            match outcome {
                Outcome::Sent => {
                    self.stats.sent(Kind::Float, batch.floats);
                    self.stats.sent(Kind::Histogram, batch.histograms);
                    let newest = batch.newest_ts as f64 / 1000.0;
                    if newest > self.stats.highest_sent.get() {
                        self.stats.highest_sent.set(newest);
                    }
                    if failures > 0 {
                        tracing::info!(failures, "remote-write recovered; batch delivered");
                    }
                    return true;
                }
                Outcome::Reject { status, body } => {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    self.stats
                        .dropped(Kind::Float, DropReason::Rejected4xx, batch.floats);
                    self.stats
                        .dropped(Kind::Histogram, DropReason::Rejected4xx, batch.histograms);
                    self.sender.log_rejection_once(status, &body);
                    return true;
                }
                Outcome::Retry { after, cause } => {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    if failures == 0 {
                        tracing::warn!(%cause, samples = batch.len(), "remote-write failed; retrying with backoff");
                    }
                    failures += 1;
                    let wait = after.unwrap_or_else(|| {
                        let half = backoff / 2;
                        half + rand::rng().random_range(Duration::ZERO..=half)
                    });
                    backoff = (backoff * 2).min(self.max_backoff);
                    let deadline = *self.deadline.borrow();
                    if let Some(d) = deadline {
                        if tokio::time::Instant::now() + wait >= d {
                            self.give_up(batch);
                            return false;
                        }
                        tokio::time::sleep(wait).await;
                    } else {
                        // Wake early when shutdown starts, to retry at once within
                        // the grace period instead of sleeping through it.
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = self.deadline.changed() => {}
                        }
                    }
                    self.stats.retried(Kind::Float, batch.floats);
                    self.stats.retried(Kind::Histogram, batch.histograms);
                }
            }
        }
    }

    fn give_up(&self, batch: &Batch) {
        self.stats
            .dropped(Kind::Float, DropReason::ShutdownDeadline, batch.floats);
        self.stats.dropped(
            Kind::Histogram,
            DropReason::ShutdownDeadline,
            batch.histograms,
        );
    }
}
