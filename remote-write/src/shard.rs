//! One shard's task: takes its series' samples from the queue in order, batches them
//! (up to `max_samples_per_send`, or whatever came within `batch_send_deadline`), hands
//! each batch to its [`Delivery`], and at shutdown drops what is left and marks every
//! series it wrote stale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::batch::{Batch, Item, Value};
use crate::clock::now_millis;
use crate::deliver::Delivery;
use crate::prompb::{Histogram, Label};
use crate::series::{Series, stale_nan};
use crate::stats::{DropReason, Kind, Stats};
use crate::transport::Transport;

/// What one shard did at shutdown.
#[derive(Default)]
pub(crate) struct ShardReport {
    pub(crate) stale_markers: u64,
    pub(crate) dropped_at_deadline: u64,
    pub(crate) completed: bool,
}

struct Known {
    wire: Series,
    last_ts: i64,
    kind: Kind,
    /// A native histogram whose classic buckets are their own series: its end marker must
    /// not become classic markers too (those series get their own, from their own shards).
    beside_classic: bool,
}

pub(crate) struct Shard<T> {
    rx: mpsc::Receiver<Item>,
    delivery: Delivery<T>,
    stats: Stats,
    external: Arc<[Label]>,
    /// Every series this shard has written, with its newest timestamp: to refuse
    /// samples Prometheus would reject (and with them the whole request), and to
    /// know what to mark stale at the end.
    known: HashMap<Series, Known>,
    /// Exemplars whose series had no sample in the batch they came in, oldest first: they
    /// wait for the series' next sample. Prometheus 3 answers a remote-write 2.0 series
    /// that carries exemplars only with 400 ("TimeSeries must contain at least one sample
    /// or histogram", storage/remote/write_handler.go), refusing the whole request; the
    /// 2.0 spec allows such series, but the receiver users run decides. At most
    /// `max_samples` per series: past that the oldest is dropped as from a full queue.
    held: HashMap<Series, Vec<Item>>,
    max_samples: usize,
    batch_deadline: Duration,
    staleness: bool,
}

impl<T: Transport> Shard<T> {
    pub(crate) fn new(
        rx: mpsc::Receiver<Item>,
        delivery: Delivery<T>,
        stats: Stats,
        external: Arc<[Label]>,
        max_samples: usize,
        batch_deadline: Duration,
        staleness: bool,
    ) -> Self {
        Self {
            rx,
            delivery,
            stats,
            external,
            known: HashMap::new(),
            held: HashMap::new(),
            max_samples,
            batch_deadline,
            staleness,
        }
    }

    /// Runs until the queue is closed and drained (or given up at the deadline).
    pub(crate) async fn run(mut self) -> ShardReport {
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
            if batch.len() > 0 && !self.delivery.send(&batch).await {
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
        // Exemplars still held had no later sample to go with (nor a marker): they go
        // alone, which 1.0 receivers and Prometheus 2 store and Prometheus 3 refuses in 2.0.
        let held: Vec<Item> = self.held.drain().flat_map(|(_, xs)| xs).collect();
        if !held.is_empty() && report.completed {
            let mut batch = Batch::default();
            for x in held {
                let wire = self.wire_of(&x.series);
                batch.add(&wire, x.timestamp, x.value);
            }
            if !self.delivery.send(&batch).await {
                report.completed = false;
                report.dropped_at_deadline += batch.len() as u64;
            }
        } else if !held.is_empty() {
            report.dropped_at_deadline += held.len() as u64;
            self.stats.dropped(
                Kind::Exemplar,
                DropReason::ShutdownDeadline,
                held.len() as u64,
            );
        }
        report
    }

    /// The labels `series` goes out under.
    fn wire_of(&self, series: &Series) -> Series {
        match self.known.get(series) {
            Some(k) => k.wire.clone(),
            None => series.with_defaults(&self.external),
        }
    }

    fn accept(&mut self, items: &mut Vec<Item>, batch: &mut Batch) {
        self.stats.queue_length.dec_by(items.len() as i64);
        for item in items.drain(..) {
            let kind = item.kind();
            if kind == Kind::Exemplar {
                // An exemplar neither ends a series nor orders its samples: it goes out
                // beside them under the series' wire labels, or waits for the next.
                let wire = self.wire_of(&item.series);
                if batch.has_samples(&wire) {
                    batch.add(&wire, item.timestamp, item.value);
                } else {
                    let held = self.held.entry(item.series.clone()).or_default();
                    if held.len() >= self.max_samples {
                        held.remove(0);
                        self.stats.dropped(Kind::Exemplar, DropReason::QueueFull, 1);
                    }
                    held.push(item);
                }
                continue;
            }
            let beside_classic = matches!(item.value, Value::NativeBesideClassic(_));
            let known = match self.known.get_mut(&item.series) {
                Some(k) => k,
                None => {
                    let wire = item.series.with_defaults(&self.external);
                    self.known.entry(item.series.clone()).or_insert(Known {
                        wire,
                        last_ts: i64::MIN,
                        kind,
                        beside_classic,
                    })
                }
            };
            if item.timestamp <= known.last_ts {
                self.stats.dropped(kind, DropReason::OutOfOrder, 1);
                continue;
            }
            known.last_ts = item.timestamp;
            known.kind = kind;
            // A series counting anew (a histogram reset, a counter re-created) says so.
            if known.wire.created_timestamp() != item.series.created_timestamp() {
                known.wire = item.series.with_defaults(&self.external);
            }
            known.beside_classic = beside_classic;
            batch.add(&known.wire, item.timestamp, item.value);
            if let Some(held) = self.held.remove(&item.series) {
                for x in held {
                    batch.add(&known.wire, x.timestamp, x.value);
                }
            }
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
        let now = now_millis();
        let mut batch = Batch::default();
        let mut written = 0;
        let known: Vec<_> = self
            .known
            .iter()
            .map(|(series, k)| {
                (
                    series.clone(),
                    k.wire.clone(),
                    (k.last_ts + 1).max(now),
                    k.kind,
                    k.beside_classic,
                )
            })
            .collect();
        for chunk in known.chunks(self.max_samples) {
            batch.clear();
            for (series, wire, ts, kind, beside_classic) in chunk {
                // A native-histogram series ends with a histogram whose sum is
                // StaleNaN, as Prometheus' own scrape loop writes it.
                let marker = || {
                    Box::new(Histogram {
                        sum: stale_nan(),
                        timestamp: *ts,
                        ..Default::default()
                    })
                };
                let v = match (kind, beside_classic) {
                    (Kind::Float | Kind::Exemplar, _) => Value::Float(stale_nan()),
                    (Kind::Histogram, false) => Value::Histogram(marker()),
                    (Kind::Histogram, true) => Value::NativeBesideClassic(marker()),
                };
                batch.add(wire, *ts, v);
                // Held exemplars go beside their series' marker: a sample to travel with.
                for x in self.held.remove(series).into_iter().flatten() {
                    batch.add(wire, x.timestamp, x.value);
                }
            }
            if self.delivery.send(&batch).await {
                written += chunk.len() as u64;
            } else {
                break;
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::watch;
    use tokio::task::JoinHandle;
    use tokio::time::Instant;

    use super::*;
    use crate::prompb::WriteRequest;
    use crate::scripted::Scripted;
    use crate::series::is_stale_nan;

    const MS: Duration = Duration::from_millis(1);

    struct Running {
        queue: mpsc::Sender<Item>,
        task: JoinHandle<ShardReport>,
        stats: Stats,
        _deadline: watch::Sender<Option<Instant>>,
    }

    /// A shard of `max_samples` per send and a 500 ms flush deadline, writing 1.0 to `t`.
    fn start(t: &Arc<Scripted>, max_samples: usize, staleness: bool) -> Running {
        start_in(t, max_samples, staleness, crate::Protocol::V1)
    }

    fn start_in(
        t: &Arc<Scripted>,
        max_samples: usize,
        staleness: bool,
        protocol: crate::Protocol,
    ) -> Running {
        let (route, deadline) = crate::deliver::Route::for_test(t.clone(), protocol);
        let stats = route.stats.clone();
        let delivery = Delivery::new(route);
        let (queue, items) = mpsc::channel(1_000);
        let external: Arc<[Label]> = Arc::new([Label {
            name: "cluster".into(),
            value: "c1".into(),
        }]);
        let shard = Shard::new(
            items,
            delivery,
            stats.clone(),
            external,
            max_samples,
            500 * MS,
            staleness,
        );
        Running {
            queue,
            task: tokio::spawn(shard.run()),
            stats,
            _deadline: deadline,
        }
    }

    fn float(series: &Series, timestamp: i64, v: f64) -> Item {
        Item {
            series: series.clone(),
            timestamp,
            value: Value::Float(v),
        }
    }

    fn timestamps(r: &WriteRequest) -> Vec<i64> {
        r.timeseries
            .iter()
            .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_holds_at_most_max_samples_per_send() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, false);
        let s = Series::new("m", [("a", "1")]).unwrap();
        for ts in 1..=25 {
            shard.queue.send(float(&s, ts, 1.0)).await.unwrap();
        }
        drop(shard.queue);
        let report = shard.task.await.unwrap();
        assert!(report.completed);
        let sizes: Vec<usize> = t
            .received()
            .iter()
            .map(|(_, r)| timestamps(r).len())
            .collect();
        assert_eq!(sizes, [10, 10, 5]);
        let all: Vec<i64> = t
            .received()
            .iter()
            .flat_map(|(_, r)| timestamps(r))
            .collect();
        assert_eq!(all, (1..=25).collect::<Vec<_>>(), "in order, each once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_batch_goes_out_at_the_flush_deadline() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, false);
        let s = Series::new("m", [("a", "1")]).unwrap();
        let t0 = Instant::now();
        for ts in 1..=3 {
            shard.queue.send(float(&s, ts, 1.0)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let got = t.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0 - t0, 500 * MS, "sent when the flush deadline came");
        assert_eq!(timestamps(&got[0].1), [1, 2, 3]);
        // External labels are added where the series has none of that name.
        let names: Vec<&str> = got[0].1.timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, ["__name__", "a", "cluster"]);
    }

    #[tokio::test(start_paused = true)]
    async fn samples_not_newer_than_the_last_sent_are_dropped_and_counted() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, false);
        let s = Series::new("m", [("a", "1")]).unwrap();
        for ts in [10, 5, 10, 11] {
            shard.queue.send(float(&s, ts, 1.0)).await.unwrap();
        }
        drop(shard.queue);
        shard.task.await.unwrap();
        let all: Vec<i64> = t
            .received()
            .iter()
            .flat_map(|(_, r)| timestamps(r))
            .collect();
        assert_eq!(all, [10, 11]);
        assert_eq!(shard.stats.snapshot().dropped_out_of_order, 2);
    }

    fn exemplar(series: &Series, timestamp: i64) -> Item {
        Item {
            series: series.clone(),
            timestamp,
            value: Value::Exemplar(Box::new(crate::prompb::Exemplar {
                labels: vec![Label {
                    name: "trace_id".into(),
                    value: timestamp.to_string(),
                }],
                value: 1.0,
                timestamp,
            })),
        }
    }

    /// Per request, per series: (sample timestamps, exemplar timestamps).
    fn carried(t: &Scripted) -> Vec<Vec<(Vec<i64>, Vec<i64>)>> {
        t.received()
            .iter()
            .map(|(_, r)| {
                r.timeseries
                    .iter()
                    .map(|ts| {
                        (
                            ts.samples.iter().map(|s| s.timestamp).collect(),
                            ts.exemplars.iter().map(|x| x.timestamp).collect(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_exemplar_without_a_sample_in_its_batch_waits_for_the_series_next_sample() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, false);
        let s = Series::new("m", [("a", "1")]).unwrap();
        let never = Series::new("never_sampled", [("a", "1")]).unwrap();
        shard.queue.send(float(&s, 10, 1.0)).await.unwrap();
        shard.queue.send(exemplar(&s, 10)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Its sample went in the request before: this one waits.
        shard.queue.send(exemplar(&s, 15)).await.unwrap();
        shard.queue.send(exemplar(&never, 16)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(t.received().len(), 1, "no request of exemplars alone");
        shard.queue.send(float(&s, 20, 2.0)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(shard.queue);
        let report = shard.task.await.unwrap();
        assert!(report.completed);
        assert_eq!(
            carried(&t),
            [
                vec![(vec![10], vec![10])],
                vec![(vec![20], vec![15])],
                // A series that never gets a sample: its exemplar goes alone at the end.
                vec![(vec![], vec![16])],
            ]
        );
        let st = shard.stats.snapshot();
        assert_eq!((st.sent_exemplars, st.dropped()), (3, 0), "{st:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_series_counting_anew_goes_out_with_its_new_created_time() {
        let t = Scripted::answering(vec![]);
        let shard = start_in(&t, 10, false, crate::Protocol::V2);
        let s = Series::new("m_total", [("a", "1")]).unwrap();
        for (ts, created) in [(10, 5), (20, 5), (30, 25)] {
            let item = float(&s.clone().with_created_timestamp(created), ts, 1.0);
            shard.queue.send(item).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop(shard.queue);
        assert!(shard.task.await.unwrap().completed);
        let starts: Vec<i64> = t
            .received_v2()
            .iter()
            .flat_map(|r| r.timeseries[0].samples.iter().map(|s| s.start_timestamp))
            .collect();
        assert_eq!(starts, [5, 5, 25]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_series_holds_at_most_max_samples_exemplars_keeping_the_newest() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 3, true);
        let s = Series::new("m", [("a", "1")]).unwrap();
        shard.queue.send(float(&s, 10, 1.0)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        for ts in 11..=15 {
            shard.queue.send(exemplar(&s, ts)).await.unwrap();
        }
        drop(shard.queue);
        assert!(shard.task.await.unwrap().completed);
        let got = carried(&t);
        assert_eq!(got.last().unwrap()[0].1, [13, 14, 15], "{got:?}");
        let st = shard.stats.snapshot();
        assert_eq!((st.sent_exemplars, st.dropped_queue_full), (3, 2), "{st:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_exemplar_still_waiting_at_the_end_goes_beside_its_series_marker() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, true);
        let s = Series::new("m", [("a", "1")]).unwrap();
        shard.queue.send(float(&s, 10, 1.0)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        shard.queue.send(exemplar(&s, 11)).await.unwrap();
        drop(shard.queue);
        let report = shard.task.await.unwrap();
        assert_eq!((report.completed, report.stale_markers), (true, 1));
        let got = carried(&t);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1][0].1, [11], "beside the marker");
        let marker = &t.received()[1].1.timeseries[0].samples[0];
        assert!(is_stale_nan(marker.value));
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_end_every_series_written_is_marked_stale_after_its_last_sample() {
        let t = Scripted::answering(vec![]);
        let shard = start(&t, 10, true);
        let far = now_millis() + 3_600_000;
        let a = Series::new("m", [("a", "1")]).unwrap();
        let b = Series::new("m", [("a", "2")]).unwrap();
        shard.queue.send(float(&a, far, 1.0)).await.unwrap();
        shard.queue.send(float(&b, 1, 1.0)).await.unwrap();
        let h = Item {
            series: Series::new("h", [("a", "1")]).unwrap(),
            timestamp: 1,
            value: Value::Histogram(Box::new(Histogram {
                timestamp: 1,
                ..Default::default()
            })),
        };
        shard.queue.send(h).await.unwrap();
        drop(shard.queue);
        let report = shard.task.await.unwrap();
        assert!(report.completed);
        assert_eq!(report.stale_markers, 3);
        let got = t.received();
        let last = &got.last().unwrap().1;
        assert_eq!(last.timeseries.len(), 3);
        for ts in &last.timeseries {
            let name = &ts.labels[0].value;
            match (ts.samples.first(), ts.histograms.first()) {
                (Some(s), None) => {
                    assert!(is_stale_nan(s.value), "{name}");
                    let after = if ts.labels[1].value == "1" { far } else { 1 };
                    assert!(s.timestamp > after, "{name}: stale before its last sample");
                }
                (None, Some(h)) => assert!(is_stale_nan(h.sum), "{name}: histogram marker"),
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
    }
}
