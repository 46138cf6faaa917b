//! Accepted requests → the remote-write queue, in order, without losing any.
//!
//! A request goes straight into the queue while it has room. When it has none, the rest of
//! the request goes to the disk buffer (if configured), and from then on every new request is
//! appended behind it until the buffer has been replayed: one FIFO, so no series ever gets an
//! older sample after a newer one (which the queue would drop as out of order). Without a disk
//! buffer a request that does not fit is held until the queue has room for it (backpressure:
//! k6 waits for its answer and never retries, so a 503 would lose the samples), up to
//! `--queue-full-wait`; only then is it refused whole (503) and counted.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redline_remote_write::RemoteWriter;
use redline_runtime::CommonArgs;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::batch::{Batch, Item, Value};
use crate::metrics::{Drop, Metrics};
use crate::spill::Spill;

/// How much the queue may take right now. The writer's queue is split evenly across shards
/// and a series always goes to one shard, so a request is sure to fit only when the whole
/// queue's length plus the request stays within one shard's share (less a margin for the
/// runtime's own pushes into the same queue).
#[derive(Debug, Clone, Copy)]
pub struct Room {
    limit: usize,
}

impl Room {
    pub fn from_common(c: &CommonArgs) -> Self {
        let per_shard = c.remote_write_queue_capacity / c.remote_write_shards.max(1);
        Self::new(per_shard)
    }

    pub fn new(per_shard: usize) -> Self {
        let margin = (per_shard / 10).min(1000);
        Self {
            limit: per_shard.saturating_sub(margin).max(1),
        }
    }

    fn available(&self, writer: &RemoteWriter) -> usize {
        let queued = writer.stats().snapshot().queue_length.max(0) as usize;
        self.limit.saturating_sub(queued)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Everything is in the queue.
    Forwarded,
    /// Some or all of it is in the disk buffer.
    Buffered,
    /// Not kept (503): the queue is full and there is no disk buffer, or the buffer is full.
    Unavailable(Drop),
}

struct Head {
    batch: Batch,
    next: usize,
    record_len: usize,
}

struct State {
    spill: Option<Spill>,
    /// The record being replayed, when the queue took only part of it.
    head: Option<Head>,
    series: HashSet<u64>,
}

pub struct Forwarder {
    writer: Arc<RemoteWriter>,
    room: Room,
    /// Without a disk buffer: how long a request may wait for room before it gets 503.
    queue_full_wait: Duration,
    metrics: Metrics,
    state: Mutex<State>,
    wake: Notify,
}

impl Forwarder {
    pub fn new(
        writer: Arc<RemoteWriter>,
        room: Room,
        queue_full_wait: Duration,
        spill: Option<Spill>,
        metrics: Metrics,
    ) -> Self {
        if let Some(s) = &spill {
            metrics.buffer_bytes.set(s.bytes() as i64);
        }
        Self {
            writer,
            room,
            queue_full_wait,
            metrics,
            state: Mutex::new(State {
                spill,
                head: None,
                series: HashSet::new(),
            }),
            wake: Notify::new(),
        }
    }

    /// How long a write may be held for room (without a disk buffer).
    pub fn queue_full_wait(&self) -> Duration {
        self.queue_full_wait
    }

    pub fn has_buffer(&self) -> bool {
        self.state
            .try_lock()
            .map(|s| s.spill.is_some())
            .unwrap_or(true)
    }

    /// Queues or buffers one request. Returns once its samples are in the queue or on disk.
    pub async fn accept(&self, batch: Batch) -> Accepted {
        // Counted from arrival, not from getting the lock: a request queued behind another
        // that is waiting for room gets its answer within the same bound.
        let give_up = Instant::now() + self.queue_full_wait;
        let kinds = batch.kinds(0);
        for (k, n) in kinds.iter().enumerate() {
            self.metrics.received[k].inc_by(*n);
        }
        let mut st = self.state.lock().await;
        let behind = st.head.is_some() || st.spill.as_ref().is_some_and(|s| !s.is_empty());
        if behind {
            return self.spill_from(&mut st, &batch, 0);
        }
        if st.spill.is_none() {
            let n = batch.items.len();
            // A request bigger than a shard's share can never be sure to fit; it is pushed
            // and the queue counts whatever it cannot take. The lock is held while waiting,
            // so requests behind this one stay behind it (a series' samples in order).
            if n <= self.room.limit && !self.wait_for_room(n, give_up).await {
                for (k, n) in kinds.iter().enumerate() {
                    self.metrics.dropped(k, Drop::QueueFull, *n);
                }
                return Accepted::Unavailable(Drop::QueueFull);
            }
            for item in &batch.items {
                self.push(&mut st, &batch, item, false);
            }
            return Accepted::Forwarded;
        }
        let stopped = self.push_from(&mut st, &batch, 0);
        if stopped == batch.items.len() {
            return Accepted::Forwarded;
        }
        self.spill_from(&mut st, &batch, stopped)
    }

    /// True once the queue has room for `n` samples; false when `give_up` passed first.
    /// The writer has no signal for room freed, so this looks every 20 ms.
    async fn wait_for_room(&self, n: usize, give_up: Instant) -> bool {
        loop {
            if n <= self.room.available(&self.writer) {
                return true;
            }
            let now = Instant::now();
            if now >= give_up {
                return false;
            }
            tokio::time::sleep((give_up - now).min(Duration::from_millis(20))).await;
        }
    }

    /// `spillable`: the caller keeps a refused sample (disk buffer), so the writer must
    /// not count it as dropped.
    fn push(&self, st: &mut State, batch: &Batch, item: &Item, spillable: bool) -> bool {
        let series = &batch.series[item.series as usize];
        let ok = match (&item.value, spillable) {
            (Value::Float { ts, v }, false) => self.writer.push(series, *ts, *v),
            (Value::Float { ts, v }, true) => self.writer.try_push(series, *ts, *v),
            (Value::Histogram(h), false) => self.writer.push_histogram(series, (**h).clone()),
            (Value::Histogram(h), true) => self.writer.try_push_histogram(series, (**h).clone()),
            (Value::Exemplar(e), false) => self.writer.push_exemplar(series, (**e).clone()),
            (Value::Exemplar(e), true) => self.writer.try_push_exemplar(series, (**e).clone()),
        };
        if ok {
            self.metrics.forwarded[item.value.kind()].inc();
            if st.series.insert(series.hash()) {
                self.metrics.series.set(st.series.len() as i64);
            }
        }
        ok
    }

    /// Pushes `items[from..]` while the queue has room; returns where it stopped.
    fn push_from(&self, st: &mut State, batch: &Batch, from: usize) -> usize {
        let mut budget = self.room.available(&self.writer);
        for (i, item) in batch.items.iter().enumerate().skip(from) {
            if budget == 0 {
                budget = self.room.available(&self.writer);
                if budget == 0 {
                    return i;
                }
            }
            // A refused push (another producer filled the shard first) is not lost: it and
            // everything after it go to the disk buffer.
            if !self.push(st, batch, item, st.spill.is_some()) {
                return i;
            }
            budget -= 1;
        }
        batch.items.len()
    }

    fn spill_from(&self, st: &mut State, batch: &Batch, from: usize) -> Accepted {
        let kinds = batch.kinds(from);
        let spill = st.spill.as_mut().expect("only called with a disk buffer");
        let result = spill.append(&batch.encode_from(from));
        self.metrics.buffer_bytes.set(spill.bytes() as i64);
        match result {
            Ok(()) => {
                for (k, n) in kinds.iter().enumerate() {
                    self.metrics.buffered[k].inc_by(*n);
                }
                self.wake.notify_one();
                Accepted::Buffered
            }
            Err(e) => {
                // A write error other than the bound is nearly always a full disk: the same
                // outcome for the sender, and the log says which.
                let reason = Drop::BufferFull;
                tracing::warn!(error = %e, samples = kinds.iter().sum::<u64>(), "k6-relay: request not kept");
                for (k, n) in kinds.iter().enumerate() {
                    self.metrics.dropped(k, reason, *n);
                }
                Accepted::Unavailable(reason)
            }
        }
    }

    /// Moves what the queue has room for from the disk buffer into the queue. Returns true
    /// when the buffer is now empty.
    pub async fn replay(&self) -> bool {
        let mut st = self.state.lock().await;
        let st = &mut *st;
        loop {
            if st.head.is_none() {
                let Some(spill) = st.spill.as_mut() else {
                    return true;
                };
                match spill.peek() {
                    Ok(None) => return true,
                    Ok(Some(record)) => match Batch::decode(&record) {
                        Ok(batch) => {
                            st.head = Some(Head {
                                batch,
                                next: 0,
                                record_len: record.len(),
                            })
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "k6-relay: disk buffer record does not decode; skipping it");
                            self.metrics.dropped(0, Drop::BufferCorrupt, 1);
                            if let Err(e) = spill.consume(record.len()) {
                                tracing::error!(error = %e, "k6-relay: disk buffer");
                                return true;
                            }
                        }
                    },
                    Err(e) => {
                        tracing::error!(error = %e, "k6-relay: skipping the rest of a disk buffer segment");
                        self.metrics.dropped(0, Drop::BufferCorrupt, 1);
                        if let Err(e) = spill.skip_segment() {
                            tracing::error!(error = %e, "k6-relay: disk buffer");
                            return true;
                        }
                    }
                }
                self.metrics.buffer_bytes.set(spill.bytes() as i64);
                continue;
            }
            let mut head = st.head.take().expect("checked above");
            head.next = self.push_from(st, &head.batch, head.next);
            if head.next < head.batch.items.len() {
                st.head = Some(head);
                return false;
            }
            let spill = st.spill.as_mut().expect("a head comes from the buffer");
            if let Err(e) = spill.consume(head.record_len) {
                tracing::error!(error = %e, "k6-relay: disk buffer cursor");
            }
            self.metrics.buffer_bytes.set(spill.bytes() as i64);
        }
    }

    /// At the end: replays until the buffer is empty or `grace` has passed, then counts what is
    /// left on disk (kept for the next start with the same directory).
    pub async fn drain(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while !self.replay().await {
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = self.state.lock().await;
        let Some(spill) = st.spill.as_ref() else {
            return;
        };
        if spill.is_empty() && st.head.is_none() {
            return;
        }
        let mut left = [0u64; 3];
        if let Ok(records) = spill.pending_records() {
            for r in records {
                if let Ok(b) = Batch::decode(&r) {
                    for (l, n) in left.iter_mut().zip(b.kinds(0)) {
                        *l += n;
                    }
                }
            }
        }
        if let Some(h) = &st.head {
            // Replayed whole next time; only the part not yet queued is missing here.
            let all = h.batch.kinds(0);
            let rest = h.batch.kinds(h.next);
            for k in 0..3 {
                left[k] -= all[k] - rest[k];
            }
        }
        tracing::warn!(
            samples = left.iter().sum::<u64>(),
            bytes = spill.bytes(),
            "k6-relay: disk buffer not empty at exit; a relay started on the same --buffer-dir replays it"
        );
        for (k, n) in left.iter().enumerate() {
            self.metrics.dropped(k, Drop::LeftInBuffer, *n);
        }
    }
}

/// Replays the disk buffer in the background while the relay runs.
pub async fn replay_loop(forwarder: Arc<Forwarder>, stop: CancellationToken) {
    if !forwarder.has_buffer() {
        return;
    }
    loop {
        let empty = forwarder.replay().await;
        let wait = if empty {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(20)
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = forwarder.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
