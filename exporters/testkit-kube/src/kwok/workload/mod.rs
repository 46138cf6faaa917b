//! One task for everything that turns Deployments into running pods: it gathers what
//! changed from the store's broadcast, then reconciles each dirty object once. Each
//! stand-in controller is a file of `impl Workload`.

mod deployments;
mod ip_pool;
mod kubelet;
mod scheduler;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::KwokConfig;
use super::object::{Key, key_of, name_of, owner_deployment, uid_of};
use crate::resources::{self, DEPLOYMENTS, NAMESPACES, NODES, PODS};
use crate::store::{Event, EventType, Store};
use ip_pool::IpPool;

pub(super) struct Workload {
    store: Arc<Store>,
    cfg: KwokConfig,
    ips: IpPool,
    /// (due, seq) -> (namespace, pod, uid) to mark Ready.
    timers: BTreeMap<(Instant, u64), (String, String, String)>,
    timed: HashSet<String>,
    timer_seq: u64,
    pod_seq: HashMap<Key, u64>,
    rr: usize,
    dirty: BTreeSet<Key>,
}

impl Workload {
    pub(super) fn new(store: Arc<Store>, cfg: KwokConfig) -> Self {
        Self {
            ips: IpPool::new(cfg.pod_cidr, cfg.pod_cidr_prefix),
            store,
            cfg,
            timers: BTreeMap::new(),
            timed: HashSet::new(),
            timer_seq: 0,
            pod_seq: HashMap::new(),
            rr: 0,
            dirty: BTreeSet::new(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut rx: broadcast::Receiver<Arc<Event>>,
        cancel: CancellationToken,
    ) {
        self.resync();
        self.flush();
        loop {
            let next = self.timers.keys().next().map(|(t, _)| *t);
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = rx.recv() => match r {
                    Ok(ev) => self.on_event(&ev),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "kwok workload controller lagged; resyncing");
                        self.resync();
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    self.fire_timers();
                }
            }
            // Drain whatever else is queued before reconciling, so a burst of events
            // costs one reconcile per object.
            loop {
                match rx.try_recv() {
                    Ok(ev) => self.on_event(&ev),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => self.resync(),
                    Err(_) => break,
                }
            }
            self.flush();
        }
    }

    fn resync(&mut self) {
        let (deps, _) = self.store.list(&DEPLOYMENTS, None);
        for d in deps {
            self.dirty.insert(key_of(&d));
        }
        let (pods, _) = self.store.list(&PODS, None);
        for p in pods {
            self.track_pod(&p);
        }
    }

    fn on_event(&mut self, ev: &Event) {
        let r = ev.resource.key;
        if r == DEPLOYMENTS.key {
            self.dirty.insert((ev.namespace.clone(), ev.name.clone()));
        } else if r == PODS.key {
            if let Some(d) = owner_deployment(&ev.object) {
                self.dirty.insert((ev.namespace.clone(), d.to_string()));
            }
            if ev.kind == EventType::Deleted {
                self.timed.remove(uid_of(&ev.object));
                self.ips.release(&ev.object);
            } else {
                self.track_pod(&ev.object);
            }
        } else if r == NODES.key {
            // Capacity changed: pods waiting for a node may fit now.
            let (pods, _) = self.store.list(&PODS, None);
            for p in pods {
                self.track_pod(&p);
            }
        } else if r == NAMESPACES.key && ev.kind == EventType::Deleted {
            self.delete_namespace_contents(&ev.name);
        }
    }

    fn delete_namespace_contents(&self, ns: &str) {
        for res in resources::ALL
            .iter()
            .filter(|r| r.namespaced && !r.virtual_only)
        {
            let (items, _) = self.store.list(res, Some(ns));
            for o in items {
                let _ = self.store.delete(res, ns, name_of(&o), None);
            }
        }
    }

    fn flush(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for (ns, name) in dirty {
            self.reconcile(&ns, &name);
        }
    }
}
