//! Busy polling on a VU thread (`--busy-poll`): while its VUs make progress, the thread keeps
//! polling its sockets instead of sleeping between responses.
//!
//! Why: a VU thread with nothing ready sleeps in `epoll_wait`, and the next response has to
//! wake it. On a VM an idle vCPU wakes slowly, and while the client wakes, a fast target has
//! nothing to do: against nginx over TLS on loopback (2-vCPU VM, 50 connections, one client
//! thread each) nginx idled 5-7 % of the run under redline against 3-6 % under wrk, which never
//! sleeps because it spends more CPU a request. Polling without sleeping keeps the target fed
//! and leaves the wake-up out of the latency measured. It costs a core while the load is on,
//! so it is off unless asked for, and wants a core of its own (pinned, Guaranteed QoS).
//!
//! How: a spinner task on the thread's single-threaded runtime yields in a loop; each yield
//! makes the runtime poll its I/O driver with a zero timeout before it runs the spinner again.
//! VUs [`mark`] each iteration they finish; once none has for the budget, the spinner parks
//! until the next mark, and the runtime sleeps as usual.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// This thread's spinner state. One thread-local, read once per finished iteration.
struct Spinner {
    /// Iterations finished on this thread (wraps; only compared for change).
    progress: Cell<u64>,
    /// The spinner of this thread, while it is parked.
    parked: Cell<Option<Waker>>,
}

thread_local! {
    static SPINNER: Spinner = const {
        Spinner {
            progress: Cell::new(0),
            parked: Cell::new(None),
        }
    };
}

/// A VU finished an iteration on this thread: progress, and an end to the spinner's sleep.
pub fn mark() {
    let parked = SPINNER.with(|s| {
        s.progress.set(s.progress.get().wrapping_add(1));
        s.parked.take()
    });
    if let Some(w) = parked {
        w.wake();
    }
}

fn progress() -> u64 {
    SPINNER.with(|s| s.progress.get())
}

#[cfg(test)]
thread_local! {
    /// Times the spinner yielded, for the tests (not counted outside them: it is the hot loop).
    static SPINS: Cell<u64> = const { Cell::new(0) };
}

/// The spinner: runs for the life of its thread's runtime, which must be single-threaded (the
/// thread-locals above are that runtime's).
pub async fn spin(budget: Duration) {
    let mut seen = progress();
    loop {
        let mut quiet_since = Instant::now();
        loop {
            tokio::task::yield_now().await;
            #[cfg(test)]
            SPINS.with(|s| s.set(s.get() + 1));
            let now = progress();
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= budget {
                break;
            }
        }
        // Quiet for the budget: sleep with the runtime until a VU makes progress again.
        poll_fn(|cx| {
            if progress() != seen {
                return Poll::Ready(());
            }
            SPINNER.with(|s| s.parked.set(Some(cx.waker().clone())));
            Poll::Pending
        })
        .await;
        seen = progress();
    }
}

#[cfg(test)]
fn spins() -> u64 {
    SPINS.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn spins_while_iterations_finish_and_sleeps_once_quiet() {
        runtime().block_on(async {
            tokio::spawn(spin(Duration::from_millis(5)));
            // Busy: a VU finishing iterations keeps the spinner going.
            for _ in 0..20 {
                mark();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let busy = spins();
            assert!(busy > 0, "the spinner never ran");
            // Quiet well past the budget: it parked, and the runtime sleeps.
            tokio::time::sleep(Duration::from_millis(30)).await;
            let parked = spins();
            tokio::time::sleep(Duration::from_millis(30)).await;
            assert_eq!(spins(), parked, "it spun with no progress past its budget");
            // Progress wakes it.
            mark();
            tokio::time::sleep(Duration::from_millis(2)).await;
            assert!(spins() > parked, "a mark did not wake it");
        });
    }

    #[test]
    fn while_it_spins_the_runtime_still_serves_sockets_and_timers() {
        runtime().block_on(async {
            tokio::spawn(spin(Duration::from_secs(3600)));
            mark();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4];
                tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
                    .await
                    .unwrap();
                buf
            });
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut c, b"ping")
                .await
                .unwrap();
            let got = tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the socket was served while spinning")
                .unwrap();
            assert_eq!(&got, b"ping");
            let before = spins();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(spins() > before, "it stopped spinning within its budget");
        });
    }
}
