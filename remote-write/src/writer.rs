//! The producers' side of the sharded queue: [`RemoteWriter`] maps each series to one
//! shard (so its samples stay in order) and queues without ever waiting; one task per
//! shard batches and sends; [`RemoteWriter::shutdown`] flushes within a deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::backoff::BackoffPolicy;
use crate::batch::{Item, Value};
use crate::config::Config;
use crate::deliver::{Delivery, Route};
use crate::error::Error;
use crate::negotiate::Negotiation;
use crate::prompb::{Exemplar, Histogram, Label};
use crate::protocol::ProtocolChoice;
use crate::send::Sender;
use crate::series::Series;
use crate::shard::{Shard, ShardReport};
use crate::stats::{DropReason, Stats};
use crate::transport::Transport;

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
    negotiation: Arc<Negotiation>,
}

impl RemoteWriter {
    /// Starts the shard tasks. Must be called inside a tokio runtime.
    pub fn start(cfg: Config) -> Result<Self, Error> {
        Self::start_with_stats(cfg, Stats::new())
    }

    /// As [`start`](Self::start), counting into `stats` (already registered by the caller).
    pub fn start_with_stats(cfg: Config, stats: Stats) -> Result<Self, Error> {
        Self::start_on(&cfg, stats, |cfg| Sender::new(cfg).map(Arc::new))
    }

    /// Starts the shard tasks sending through the transport `connect` makes from `cfg`
    /// once the rest of `cfg` is checked.
    pub(crate) fn start_on<T: Transport>(
        cfg: &Config,
        stats: Stats,
        connect: impl FnOnce(&Config) -> Result<Arc<T>, Error>,
    ) -> Result<Self, Error> {
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
        let per_shard = cfg.queue_capacity / cfg.shards;
        stats.queue_capacity.set((per_shard * cfg.shards) as i64);
        let (deadline, deadline_rx) = watch::channel(None);
        let negotiation = Arc::new(Negotiation::new(
            cfg.native_histograms,
            cfg.histogram_fallback,
        ));
        let route = Route {
            transport: connect(cfg)?,
            stats: stats.clone(),
            deadline: deadline_rx,
            retry: BackoffPolicy::new(cfg.min_backoff, cfg.max_backoff),
            negotiation: negotiation.clone(),
            protocol: Arc::new(ProtocolChoice::new(cfg.protocol)),
        };
        let mut shards = Vec::with_capacity(cfg.shards);
        let mut tasks = Vec::with_capacity(cfg.shards);
        for _ in 0..cfg.shards {
            let (tx, rx) = mpsc::channel(per_shard);
            shards.push(tx);
            let delivery = Delivery::new(route.clone());
            let shard = Shard::new(
                rx,
                delivery,
                stats.clone(),
                external.clone(),
                cfg.max_samples_per_send,
                cfg.batch_send_deadline,
                cfg.staleness_markers,
            );
            tasks.push(tokio::spawn(shard.run()));
        }
        Ok(Self {
            shards,
            stats,
            deadline,
            tasks,
            negotiation,
        })
    }

    /// False once the receiver said it does not take native histograms (or with
    /// [`NativeHistograms::Never`](crate::NativeHistograms::Never)): a producer that has
    /// the classic buckets of a histogram anyway can stop pushing its native form.
    pub fn takes_native_histograms(&self) -> bool {
        self.negotiation.sends_native()
    }

    /// As [`push_histogram`](Self::push_histogram), for a histogram whose classic
    /// buckets the caller pushes too: where the receiver does not take native
    /// histograms it is left out instead of being converted to classic series.
    pub fn push_native_beside_classic(&self, series: &Series, histogram: Histogram) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: histogram.timestamp,
                value: Value::NativeBesideClassic(Box::new(histogram)),
            },
            true,
        )
    }

    /// As [`push_native_beside_classic`](Self::push_native_beside_classic), without counting
    /// a full queue as a drop.
    pub fn try_push_native_beside_classic(&self, series: &Series, histogram: Histogram) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: histogram.timestamp,
                value: Value::NativeBesideClassic(Box::new(histogram)),
            },
            false,
        )
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

    /// Queues one exemplar of `series` (its `timestamp` field is used). Sent beside the
    /// series' samples in either protocol; never waits, counts a full queue as a drop.
    pub fn push_exemplar(&self, series: &Series, exemplar: Exemplar) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: exemplar.timestamp,
                value: Value::Exemplar(Box::new(exemplar)),
            },
            true,
        )
    }

    /// As [`push_exemplar`](Self::push_exemplar), without counting a full queue as a drop.
    pub fn try_push_exemplar(&self, series: &Series, exemplar: Exemplar) -> bool {
        self.enqueue(
            Item {
                series: series.clone(),
                timestamp: exemplar.timestamp,
                value: Value::Exemplar(Box::new(exemplar)),
            },
            false,
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tokio::time::Instant;

    use super::*;
    use crate::scripted::{Scripted, retry};
    use crate::series::is_stale_nan;
    use crate::transport::Outcome;

    const MS: Duration = Duration::from_millis(1);

    fn config(shards: usize) -> Config {
        Config {
            shards,
            batch_send_deadline: 50 * MS,
            min_backoff: 10 * MS,
            max_backoff: 100 * MS,
            staleness_markers: false,
            ..Config::new("http://127.0.0.1:1/api/v1/write")
        }
    }

    fn start(cfg: Config, t: &Arc<Scripted>) -> RemoteWriter {
        RemoteWriter::start_on(&cfg, Stats::new(), |_| Ok(t.clone())).unwrap()
    }

    fn numbered(n: usize) -> Vec<Series> {
        (0..n)
            .map(|i| Series::new("m", [("i", i.to_string())]).unwrap())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_series_always_maps_to_the_same_shard_and_series_use_every_shard() {
        let w = start(config(4), &Scripted::answering(vec![]));
        let a = Series::new("m", [("x", "1"), ("y", "2")]).unwrap();
        let same = Series::new("m", [("y", "2"), ("x", "1")]).unwrap();
        assert_eq!(w.shard_of(&a), w.shard_of(&same));
        assert!((0..100).all(|_| w.shard_of(&a) == w.shard_of(&a.clone())));
        let mut per_shard = [0; 4];
        for s in numbered(400) {
            per_shard[w.shard_of(&s)] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 50), "{per_shard:?}");
        w.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn each_series_arrives_in_order_across_shards_and_retries() {
        // Every third request fails and is sent again.
        let failed = |n: usize| n % 3 == 1;
        let t = Scripted::new(move |n| if failed(n) { retry() } else { Outcome::Sent });
        let w = start(
            Config {
                max_samples_per_send: 7,
                ..config(4)
            },
            &t,
        );
        let series = numbered(20);
        for ts in 0..50 {
            for s in &series {
                assert!(w.push(s, 1_000 + ts, ts as f64));
            }
            if ts % 10 == 0 {
                // Let batches go out (and fail) while more is pushed.
                tokio::time::sleep(20 * MS).await;
            }
        }
        let report = w.shutdown(Duration::from_secs(30)).await;
        assert!(
            report.completed && report.dropped_at_deadline == 0,
            "{report:?}"
        );
        let mut per_series: HashMap<String, Vec<i64>> = HashMap::new();
        let received = t.received();
        assert!(
            received.iter().any(|(_, r)| r.timeseries.len() > 1),
            "series share batches"
        );
        for (_, request) in received
            .iter()
            .enumerate()
            .filter(|(n, _)| !failed(*n))
            .map(|(_, r)| r)
        {
            let samples: usize = request.timeseries.iter().map(|ts| ts.samples.len()).sum();
            assert!(samples <= 7, "max_samples_per_send: {samples}");
            for ts in &request.timeseries {
                per_series
                    .entry(ts.labels[1].value.clone())
                    .or_default()
                    .extend(ts.samples.iter().map(|s| s.timestamp));
            }
        }
        assert_eq!(per_series.len(), 20);
        for (series, got) in per_series {
            assert_eq!(got, (1_000..1_050).collect::<Vec<_>>(), "series i={series}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_gives_up_at_its_deadline_and_reports_what_was_dropped() {
        let t = Scripted::new(|_| retry());
        let w = start(
            Config {
                staleness_markers: true,
                ..config(2)
            },
            &t,
        );
        let stats = w.stats().clone();
        let series = numbered(3);
        for ts in 0..10 {
            for s in &series {
                assert!(w.push(s, 1_000 + ts, 1.0));
            }
        }
        let t0 = Instant::now();
        let report = w.shutdown(Duration::from_secs(2)).await;
        assert_eq!(
            Instant::now() - t0,
            Duration::from_secs(2),
            "the grace, no more"
        );
        assert!(!report.completed);
        assert_eq!(report.dropped_at_deadline, 30);
        assert_eq!(report.stale_markers, 0, "no markers after a failed flush");
        let st = stats.snapshot();
        assert_eq!((st.dropped_shutdown, st.sent, st.queue_length), (30, 0, 0));
        assert!(
            t.received()
                .iter()
                .all(|(at, _)| *at <= t0 + Duration::from_secs(2)),
            "no request after the deadline"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_flushes_a_recovering_receiver_then_marks_every_series_stale() {
        let t = Scripted::new(|n| if n < 3 { retry() } else { Outcome::Sent });
        let w = start(
            Config {
                staleness_markers: true,
                ..config(2)
            },
            &t,
        );
        let series = numbered(5);
        for s in &series {
            assert!(w.push(s, 1_000, 1.0));
        }
        let t0 = Instant::now();
        let report = w.shutdown(Duration::from_secs(10)).await;
        assert!(
            Instant::now() - t0 < Duration::from_secs(10),
            "done before the grace ends"
        );
        assert!(report.completed, "{report:?}");
        assert_eq!((report.dropped_at_deadline, report.stale_markers), (0, 5));
        let mut stale: Vec<String> = t
            .received()
            .iter()
            .flat_map(|(_, r)| r.timeseries.clone())
            .filter(|ts| ts.samples.iter().any(|s| is_stale_nan(s.value)))
            .map(|ts| ts.labels[1].value.clone())
            .collect();
        stale.sort();
        stale.dedup();
        assert_eq!(stale, ["0", "1", "2", "3", "4"]);
    }
}
