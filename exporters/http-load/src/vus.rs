//! Where a VU comes from and where its task runs: a VU is reused from its scenario's pool or
//! made with the next free id, and its task goes to the VU thread that id maps to (without VU
//! threads, to the caller's runtime).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::vu::Vu;
use crate::workers::Workers;

/// Cheap to clone: every clone hands out ids from the same counter.
#[derive(Clone, Default)]
pub struct Vus {
    workers: Option<Arc<Workers>>,
    next_id: Arc<AtomicU64>,
}

impl Vus {
    /// VU tasks run on `workers`' threads, or on the caller's runtime with `None`.
    pub fn new(workers: Option<Arc<Workers>>) -> Self {
        Self {
            workers,
            next_id: Arc::default(),
        }
    }

    /// A VU from `pool`, or a new one, boxed for its task: a task's output is moved out of
    /// every poll of the task by tokio (its `Poll<Output>`), and a VU is 1.7 KB: returned
    /// inline, that was two memmoves of it per request, ~400 instructions.
    pub fn take(&self, pool: &mut Vec<Vu>) -> Box<Vu> {
        Box::new(
            pool.pop()
                .unwrap_or_else(|| Vu::new(self.next_id.fetch_add(1, Ordering::Relaxed))),
        )
    }

    /// Spawns VU `vu`'s task on its thread into `set`.
    pub fn spawn<F>(&self, set: &mut JoinSet<Box<Vu>>, vu: u64, task: F)
    where
        F: Future<Output = Box<Vu>> + Send + 'static,
    {
        match &self.workers {
            Some(w) => w.spawn_into(set, vu, task),
            None => {
                set.spawn(task);
            }
        }
    }

    /// The runtime for a loop that hands work to VUs: the thread of the VU that `pool` gives
    /// first, so that with one VU thread every hand-off stays on it. `None` without VU threads.
    pub fn home(&self, pool: &[Vu]) -> Option<Handle> {
        let first = pool
            .last()
            .map_or_else(|| self.next_id.load(Ordering::Relaxed), |vu| vu.id);
        self.workers.as_ref().map(|w| w.handle_for(first).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shared_by_clones_and_a_pooled_vu_comes_back_first() {
        let vus = Vus::new(None);
        let other = vus.clone();
        let mut pool = Vec::new();
        assert_eq!(vus.take(&mut pool).id, 0);
        assert_eq!(other.take(&mut pool).id, 1);
        pool.push(Vu::new(0));
        assert_eq!(vus.take(&mut pool).id, 0);
        assert_eq!(vus.take(&mut pool).id, 2);
        assert!(vus.home(&pool).is_none(), "no VU threads, no home runtime");
    }

    #[tokio::test]
    async fn the_home_runtime_is_the_thread_of_the_next_vu() {
        let vus = Vus::new(Some(Arc::new(
            Workers::start(2, std::time::Duration::ZERO).unwrap(),
        )));
        let thread = |h: Handle| async move {
            h.spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .unwrap()
        };
        let mut pool = Vec::new();
        // Empty pool: the next VU made is id 0.
        let first = thread(vus.home(&pool).unwrap()).await;
        let mut set = JoinSet::new();
        let vu = vus.take(&mut pool);
        assert_eq!(vu.id, 0);
        vus.spawn(&mut set, 0, async move {
            assert!(std::thread::current().name().is_some());
            vu
        });
        let vu = set.join_next().await.unwrap().unwrap();
        pool.push(*vu);
        assert_eq!(thread(vus.home(&pool).unwrap()).await, first);
        // VU 1 lives on the other thread.
        pool.push(Vu::new(1));
        assert_ne!(thread(vus.home(&pool).unwrap()).await, first);
    }
}
