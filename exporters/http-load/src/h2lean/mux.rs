//! A lean HTTP/2 connection shared by many VUs (`--http2 --max-connections N`), each request
//! one stream: the multiplexed counterpart of [`super::exchange`].
//!
//! One task per connection drives the socket: it parses whatever arrived and wakes exactly
//! the VUs whose responses completed (one wakeup per response, none for the head or a DATA
//! frame), and it writes. A VU encodes its request's frames into the connection's buffer and
//! wakes the task; the task holds its write back for up to `MAX_TURNS` scheduler turns after
//! a read (see `Inner::holding`), so the requests of the VUs that one read's responses woke,
//! and of those the next reads wake, go out in one write, as h2load's `-m` does. Measured against
//! nginx over TLS, 5 connections x 10 streams: VUs writing their own frames (one syscall
//! per request) cost ~1.6 s of system time per 3 s run, twice the h2 crate's, which batches.
//! Why a task rather than VUs taking turns at reading: with several streams in flight
//! someone must always be reading, also when every VU is between requests (a PING or a
//! GOAWAY must be answered); a dedicated task keeps that simple, and its wakeup is shared by
//! every response that one read delivers and every request that one write sends. Measured
//! (callgrind, 50 VUs on 5 connections x 10 streams, nginx over TLS): the task was polled
//! 4,027 times for 20,000 requests, and a poll's scheduling costs ~235 instructions, so VUs
//! reading for each other could save at most ~50 of the ~15k instructions a request costs.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;

use super::conn::{Core, StreamState};
use super::encoder::RequestHead;
use crate::error::{ClientError, io_reason};
use crate::metrics::ErrorReason;
use crate::response::Keep;
use crate::stream::Stream;
use crate::wire::WireCounters;

/// A handle on one shared connection; clones share it. The connection's task ends when the
/// connection fails or closes, or when no handle is left and no stream is open.
pub struct MuxConn {
    inner: Arc<Mutex<Inner>>,
}

impl Clone for MuxConn {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for MuxConn {
    fn drop(&mut self) {
        // The last handle (the task holds one more reference): let the task see it.
        if Arc::strong_count(&self.inner) == 2 {
            lock(&self.inner).wake_task();
        }
    }
}

struct Inner {
    io: Stream,
    core: Core,
    rbuf: BytesMut,
    /// How much of `core.wbuf` is written.
    written: usize,
    wire: Arc<WireCounters>,
    task: Option<Waker>,
    /// VUs waiting for a stream (SETTINGS_MAX_CONCURRENT_STREAMS reached).
    waiters: VecDeque<Waker>,
    /// Set when the task ended: nothing is read any more.
    ended: bool,
    /// Turns the task has yielded since it last wrote. While it is above 0 the task is
    /// holding its write back (see [`Inner::holding`]) and will run again by itself once the
    /// scheduler has run everything else: a VU queueing a request meanwhile does not wake
    /// it, which would run it right after that VU (tokio's LIFO slot) and send that one
    /// request alone.
    turns: u8,
    /// Responses completed by reads since the last write, and requests queued since.
    woken: usize,
    queued: usize,
    /// Writes to the socket (for the tests: requests per write).
    #[cfg(test)]
    writes: u64,
}

/// How many scheduler turns the task may hold a write back. A turn ends when the worker has
/// run every task already runnable and polled the sockets once more (tokio's deferred wake),
/// so an idle turn costs microseconds, not a timer's tick. The bound keeps a VU that is
/// woken and does not come back (its future not polled), or a response that is slow to
/// come, from holding the others' requests for longer. Measured against nginx over TLS (5
/// connections x 10 streams, 700k requests, 6-7 alternating rounds against h2load -c5 -m10 on a
/// steady machine): 8 turns cut batches short (177.3-177.8k req/s, 5.01 µs of client CPU a
/// request); 32 gave 181.6-183.2k and 4.89 µs, 16 in between, 64 no better than 32.
const MAX_TURNS: u8 = 32;

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn io_error(what: &str, e: &std::io::Error) -> ClientError {
    ClientError {
        reason: io_reason(e),
        message: format!("{what}: {e}"),
    }
}

impl Inner {
    fn wake_task(&self) {
        if let Some(w) = &self.task {
            w.wake_by_ref();
        }
    }

    /// Whether the write waits one more turn: only after a read completed responses (so a
    /// lone request, a PING's answer or a reset is written as soon as the task runs), while
    /// the VUs those responses woke have not all queued their next requests, or while
    /// responses to requests already written are still to come (the read that brings them
    /// would otherwise find requests just written in a write of their own).
    ///
    /// Why: nginx answers each write of requests with one write of responses, so the
    /// requests per write stay as they started: writing as soon as the first woken VU queued
    /// (the task ran right after it, from tokio's LIFO slot) kept ~2 requests per write.
    /// Measured against nginx over TLS, 5 connections x 10 streams, 100k requests: write
    /// syscalls per request 0.44-0.49 -> 0.11 (h2load: 0.11), CPU 5.5-6.4 -> 5.3-5.6 us per
    /// request; one stream per connection stays at one write per request.
    fn holding(&self) -> bool {
        self.turns < MAX_TURNS
            && self.woken > 0
            && (self.queued < self.woken
                || self
                    .core
                    .streams
                    .iter()
                    .any(|s| s.wrote.is_some() && !s.done()))
    }

    fn wake_waiters(&mut self) {
        for w in self.waiters.drain(..) {
            w.wake();
        }
    }

    /// Writes out what is queued; `Ready(Ok)` when all of it is on the socket.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.core.wbuf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        while self.written < self.core.wbuf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.core.wbuf[self.written..]))?;
            #[cfg(test)]
            {
                self.writes += 1;
            }
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
            self.wire
                .written
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if self.io.is_tls() {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        }
        self.written = 0;
        self.core.flushed(Instant::now());
        Poll::Ready(Ok(()))
    }

    /// Writes what is queued; a failed write fails the connection and every stream on it.
    fn write_or_fail(&mut self, cx: &mut Context<'_>) {
        if let Poll::Ready(Err(e)) = self.poll_write(cx) {
            self.fail(io_error("writing", &e));
        }
    }

    fn fail(&mut self, e: ClientError) {
        self.core.fail_all(&e);
        self.wake_waiters();
    }

    /// The task's turn: read and handle frames until the socket has nothing more, and write
    /// unless woken VUs are still to queue requests. `Ready(Yield)` asks to be polled again
    /// after the scheduler's other tasks, `Ready(End)` when the connection is over.
    fn poll_drive(&mut self, cx: &mut Context<'_>, unused: bool) -> Poll<Drive> {
        if self.task.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
            self.task = Some(cx.waker().clone());
        }
        loop {
            if !self.holding() {
                self.turns = 0;
                self.woken = 0;
                self.queued = 0;
                self.write_or_fail(cx);
            }
            if self.core.failed.is_some() {
                return Poll::Ready(Drive::End);
            }
            if unused && self.core.streams.is_empty() {
                return Poll::Ready(Drive::End);
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                // Still registered for reading: data arriving meanwhile wakes the task sooner.
                Poll::Pending if self.holding() => {
                    self.turns += 1;
                    return Poll::Ready(Drive::Yield);
                }
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    self.fail(ClientError {
                        reason: ErrorReason::Reset,
                        message: "the server closed the HTTP/2 connection".into(),
                    });
                    return Poll::Ready(Drive::End);
                }
                Poll::Ready(Ok(n)) => {
                    self.wire
                        .read
                        .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    let done = self.core.streams.iter().filter(|s| s.done()).count();
                    let r = self.core.receive(&mut self.rbuf);
                    self.woken += self.core.streams.iter().filter(|s| s.done()).count() - done;
                    if !self.waiters.is_empty() && (self.core.can_open() || r.is_err()) {
                        self.wake_waiters();
                    }
                    if r.is_err() {
                        // The GOAWAY, if the socket takes it at once.
                        let _ = self.poll_write(cx);
                        self.wake_waiters();
                        return Poll::Ready(Drive::End);
                    }
                }
                Poll::Ready(Err(e)) => {
                    self.fail(io_error("reading", &e));
                    return Poll::Ready(Drive::End);
                }
            }
        }
    }
}

/// What [`Inner::poll_drive`] asks of its task.
enum Drive {
    /// Poll again once the tasks already runnable have run (the woken VUs).
    Yield,
    /// The connection is over.
    End,
}

/// Starts HTTP/2 on `io` (the preface goes out with the first request) and spawns the
/// connection's reader task on the caller's runtime (a VU's worker thread).
pub fn start(io: Stream, wire: Arc<WireCounters>) -> MuxConn {
    let inner = Arc::new(Mutex::new(Inner {
        io,
        core: Core::new(),
        rbuf: BytesMut::with_capacity(16 * 1024),
        written: 0,
        wire,
        task: None,
        waiters: VecDeque::new(),
        ended: false,
        turns: 0,
        woken: 0,
        queued: 0,
        #[cfg(test)]
        writes: 0,
    }));
    let task = Arc::clone(&inner);
    tokio::spawn(async move {
        // Bounded: each Yield is one of at most MAX_TURNS turns between two writes.
        while let Drive::Yield = poll_fn(|cx| {
            // Only the task's own reference left: no one can open a stream any more.
            let unused = Arc::strong_count(&task) == 1;
            lock(&task).poll_drive(cx, unused)
        })
        .await
        {
            // Defers the wake until the scheduler has run its other runnable tasks.
            tokio::task::yield_now().await;
        }
        let mut g = lock(&task);
        g.ended = true;
        if g.core.failed.is_none() {
            g.fail(ClientError {
                reason: ErrorReason::Reset,
                message: "HTTP/2 connection closed".into(),
            });
        }
    });
    MuxConn { inner }
}

/// A stream this VU opened; dropped before its response (the request's timeout), it is
/// reset so the server stops working on it.
struct Open<'a> {
    conn: &'a MuxConn,
    id: u32,
    taken: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.taken {
            let mut g = lock(&self.conn.inner);
            g.core.take(self.id);
            g.wake_task();
        }
    }
}

impl MuxConn {
    /// The connection takes new streams (no GOAWAY, no error, its task running).
    pub fn is_usable(&self) -> bool {
        let g = lock(&self.inner);
        !g.ended && g.core.usable()
    }

    /// Marks the connection unusable: the next user opens a new one.
    pub fn discard(&self) {
        let mut g = lock(&self.inner);
        if g.core.failed.is_none() {
            g.fail(ClientError {
                reason: ErrorReason::Reset,
                message: "HTTP/2 connection discarded".into(),
            });
            g.wake_task();
        }
    }

    /// Writes to the socket so far.
    #[cfg(test)]
    pub fn writes(&self) -> u64 {
        lock(&self.inner).writes
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`u32::MAX` until it says).
    pub fn peer_max_streams(&self) -> u32 {
        lock(&self.inner).core.peer_max_streams()
    }

    /// Sends the request and `body` on a new stream and waits for the whole
    /// response. Waits first while the server's stream limit is reached. `Err` says whether
    /// nothing of the response came back (a retry on another connection is safe).
    pub async fn send(
        &self,
        head: &RequestHead<'_>,
        body: &Bytes,
        keep: Keep,
    ) -> Result<StreamState, (ClientError, bool)> {
        let id = poll_fn(|cx| {
            let mut g = lock(&self.inner);
            if g.ended || !g.core.usable() {
                let e = g.core.failed.clone().unwrap_or_else(|| ClientError {
                    reason: ErrorReason::Reset,
                    message: "HTTP/2 connection going away".into(),
                });
                return Poll::Ready(Err((e, true)));
            }
            if !g.core.can_open() {
                g.waiters.push_back(cx.waker().clone());
                return Poll::Pending;
            }
            let id = g.core.open(head, body, keep);
            g.queued += 1;
            if g.turns == 0 {
                g.wake_task();
            }
            Poll::Ready(Ok(id))
        })
        .await?;
        let mut open = Open {
            conn: self,
            id,
            taken: false,
        };
        let stream = poll_fn(|cx| {
            let mut g = lock(&self.inner);
            let Some(s) = g.core.streams.iter_mut().find(|s| s.id == id) else {
                return Poll::Ready(None);
            };
            if s.done() {
                return Poll::Ready(g.core.take(id));
            }
            if s.waker.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        open.taken = true;
        let failed = lock(&self.inner).core.failed.is_some();
        let stream = stream.ok_or_else(|| {
            (
                ClientError {
                    reason: ErrorReason::Other,
                    message: "HTTP/2 stream vanished".into(),
                },
                false,
            )
        })?;
        match &stream.outcome {
            Some(Ok(())) => Ok(stream),
            Some(Err(f)) => {
                let nothing_back = f.unprocessed || (failed && stream.head_at.is_none());
                Err((f.error.clone(), nothing_back))
            }
            None => unreachable!("taken when done"),
        }
    }
}
