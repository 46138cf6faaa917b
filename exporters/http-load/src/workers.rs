//! VU threads: one single-threaded tokio runtime per core, each driving its share of VUs.
//!
//! Why not the daemon's multi-threaded runtime: there a VU task, its hyper connection task and
//! its socket's readiness are woken across threads and stolen between workers, and on a fast
//! target that bookkeeping costs more than the request. Measured on 2 cores against nginx on
//! loopback, 50 VUs: 16.6 µs of CPU per request on the shared runtime, 11.1 µs with one
//! single-threaded one (`hack/bench-http.sh`). A VU stays on the thread its id maps to, so its
//! kept-alive connection is always polled by the runtime that registered it.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

pub struct Workers {
    handles: Vec<Handle>,
    // Dropping these ends each thread's runtime (and with it any task still on it).
    _stops: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// Starts `n` (at least 1) VU threads; with a `busy_poll` budget above 0 each gets a
    /// spinner (see [`crate::busy_poll`]).
    pub fn start(n: usize, busy_poll: Duration) -> io::Result<Self> {
        let mut handles = Vec::with_capacity(n.max(1));
        let mut stops = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(rt.handle().clone());
            if !busy_poll.is_zero() {
                rt.spawn(crate::busy_poll::spin(busy_poll));
            }
            let (tx, rx) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("http-load-vu-{i}"))
                .spawn(move || {
                    let _ = rt.block_on(rx);
                })?;
            stops.push(tx);
        }
        Ok(Self {
            handles,
            _stops: stops,
        })
    }

    /// The default: one thread per core this process may use (cgroup quota included), or
    /// half of them (at least one) when every target is on this machine.
    ///
    /// Why half: a target on loopback needs CPU too, and VU threads that take every core make
    /// it share them with the client, then both run slower. Measured on 2 cores against nginx
    /// (HTTP/1.1, 50 connections, issue 19): 164k req/s with 2 VU threads, 190k with 1.
    pub fn default_count(all_targets_local: bool) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if all_targets_local {
            (cores / 2).max(1)
        } else {
            cores
        }
    }

    /// The runtime VU `vu` lives on.
    pub fn handle_for(&self, vu: u64) -> &Handle {
        &self.handles[(vu % self.handles.len() as u64) as usize]
    }

    /// Spawns `task` on VU `vu`'s thread into `set`.
    pub fn spawn_into<T, F>(&self, set: &mut JoinSet<T>, vu: u64, task: F)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        set.spawn_on(task, self.handle_for(vu));
    }
}

/// Whether `host` (a URI's host, brackets removed) is this machine: `localhost` or a
/// loopback address.
pub fn is_local_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_targets_leave_half_the_cores_to_the_target() {
        assert!(is_local_host("127.0.0.1") && is_local_host("::1") && is_local_host("LOCALHOST"));
        assert!(is_local_host("127.3.4.5"));
        assert!(!is_local_host("10.0.0.1") && !is_local_host("gateway.example"));
        let all = Workers::default_count(false);
        assert_eq!(Workers::default_count(true), (all / 2).max(1));
        assert!(Workers::default_count(true) >= 1);
    }

    #[tokio::test]
    async fn a_vu_always_lands_on_the_same_thread_and_threads_are_spread() {
        let w = Workers::start(3, Duration::ZERO).unwrap();
        let name = || std::thread::current().name().unwrap_or("").to_owned();
        let mut seen = Vec::new();
        for vu in 0..6u64 {
            let mut set = JoinSet::new();
            w.spawn_into(&mut set, vu, async move { name() });
            seen.push(set.join_next().await.unwrap().unwrap());
        }
        assert_eq!(seen[0], seen[3]);
        assert_eq!(seen[1], seen[4]);
        assert_eq!(seen[2], seen[5]);
        assert_ne!(seen[0], seen[1]);
        assert_ne!(seen[1], seen[2]);
        assert!(
            seen.iter().all(|n| n.starts_with("http-load-vu-")),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn dropping_workers_ends_their_tasks_spinning_or_not() {
        // A spinner whose budget outlasts the test never parks: the thread must end anyway.
        for busy_poll in [Duration::ZERO, Duration::from_secs(3600)] {
            let w = Workers::start(1, busy_poll).unwrap();
            let (tx, rx) = oneshot::channel::<()>();
            let mut set = JoinSet::new();
            w.spawn_into(&mut set, 0, async move {
                let _tx = tx;
                crate::busy_poll::mark();
                std::future::pending::<()>().await
            });
            // The VU task has run (and marked) before the workers go.
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(w);
            // The runtime shuts down and drops the pending task, closing the channel.
            assert!(
                tokio::time::timeout(Duration::from_secs(10), rx)
                    .await
                    .unwrap_or_else(|_| panic!("busy_poll {busy_poll:?}: the task was not dropped"))
                    .is_err()
            );
        }
    }
}
