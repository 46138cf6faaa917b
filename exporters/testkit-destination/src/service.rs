//! The gRPC service, the per-service snapshot channels and the dispatcher that keeps
//! them current from the store's change broadcast.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::Stream;
use linkerd2_proxy_api::destination::{
    self as api, AddrSet, DestinationProfile, GetDestination, NoEndpoints, Update, WeightedAddr,
    WeightedAddrSet, update,
};
use linkerd2_proxy_api::net::TcpAddress;
use redline_testkit_kube::Store;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::resolve::{self, Snapshot, Target};

/// Linkerd's default endpoint weight.
const WEIGHT: u32 = 10_000;

pub struct Shared {
    store: Arc<Store>,
    channels: Mutex<HashMap<Target, watch::Sender<Arc<Snapshot>>>>,
    kill: Mutex<CancellationToken>,
    shutdown: CancellationToken,
    delay_nanos: AtomicU64,
    active: AtomicUsize,
    opened: AtomicU64,
    updates: AtomicU64,
    tokens: Mutex<Vec<String>>,
    paths: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(store: Arc<Store>, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            store,
            channels: Mutex::new(HashMap::new()),
            kill: Mutex::new(shutdown.child_token()),
            shutdown,
            delay_nanos: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            tokens: Mutex::new(Vec::new()),
            paths: Mutex::new(Vec::new()),
        })
    }

    pub fn active_streams(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn streams_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    pub fn updates_sent(&self) -> u64 {
        self.updates.load(Ordering::Relaxed)
    }

    pub fn watched_services(&self) -> usize {
        let mut g = lock(&self.channels);
        g.retain(|_, tx| tx.receiver_count() > 0);
        g.len()
    }

    pub fn context_tokens(&self) -> Vec<String> {
        lock(&self.tokens).clone()
    }

    pub fn requested_paths(&self) -> Vec<String> {
        lock(&self.paths).clone()
    }

    pub fn kill_streams(&self) {
        let mut g = lock(&self.kill);
        g.cancel();
        *g = self.shutdown.child_token();
    }

    pub fn set_update_delay(&self, d: Duration) {
        self.delay_nanos.store(
            d.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    fn subscribe(&self, t: &Target) -> watch::Receiver<Arc<Snapshot>> {
        let mut g = lock(&self.channels);
        if let Some(tx) = g.get(t) {
            return tx.subscribe();
        }
        // Computed under the channel lock, which the dispatcher also takes, so an
        // update racing with this registration is applied after it, not lost.
        let snap = Arc::new(resolve::snapshot(&self.store, t));
        let (tx, rx) = watch::channel(snap);
        g.insert(t.clone(), tx);
        rx
    }

    /// Recomputes the snapshots of the watched targets of one service (or all).
    fn refresh(&self, only: Option<(&str, &str)>) {
        let mut g = lock(&self.channels);
        g.retain(|_, tx| tx.receiver_count() > 0);
        for (t, tx) in g.iter() {
            if only.is_some_and(|(ns, svc)| t.namespace != ns || t.service != svc) {
                continue;
            }
            let snap = resolve::snapshot(&self.store, t);
            tx.send_if_modified(|cur| {
                if **cur == snap {
                    false
                } else {
                    *cur = Arc::new(snap);
                    true
                }
            });
        }
    }
}

fn service_of_slice(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/labels/kubernetes.io~1service-name")
        .and_then(Value::as_str)
}

/// Follows the store and refreshes the snapshots of services whose Service or
/// EndpointSlices changed.
pub async fn dispatch(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut rx = shared.store.subscribe();
    // Anything committed before the subscription is picked up by this first refresh.
    shared.refresh(None);
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.recv() => r,
        };
        match ev {
            Ok(ev) => {
                let kind = ev.resource.kind;
                if kind == "Service" {
                    shared.refresh(Some((&ev.namespace, &ev.name)));
                } else if kind == "EndpointSlice" {
                    let new = service_of_slice(&ev.object);
                    let old = ev.old.as_deref().and_then(service_of_slice);
                    if let Some(svc) = new {
                        shared.refresh(Some((&ev.namespace, svc)));
                    }
                    if let Some(svc) = old.filter(|o| Some(*o) != new) {
                        shared.refresh(Some((&ev.namespace, svc)));
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => shared.refresh(None),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn weighted(t: &Target, addr: &std::net::SocketAddr, e: &resolve::Endpoint) -> WeightedAddr {
    let mut labels = HashMap::new();
    if let Some(pod) = &e.pod {
        labels.insert("pod".to_string(), pod.clone());
    }
    labels.insert("namespace".to_string(), t.namespace.clone());
    WeightedAddr {
        addr: Some(TcpAddress::from(*addr)),
        weight: WEIGHT,
        metric_labels: labels,
        ..Default::default()
    }
}

fn set_labels(t: &Target) -> HashMap<String, String> {
    HashMap::from([
        ("namespace".to_string(), t.namespace.clone()),
        ("service".to_string(), t.service.clone()),
    ])
}

fn no_endpoints(exists: bool) -> Update {
    Update {
        update: Some(update::Update::NoEndpoints(NoEndpoints { exists })),
    }
}

/// The messages that move a client from `last` (None: nothing sent yet) to `now`.
pub fn diff(t: &Target, last: Option<&Snapshot>, now: &Snapshot) -> Vec<Update> {
    let empty = Snapshot::default();
    let prev = last.unwrap_or(&empty);
    if now.endpoints.is_empty() {
        let changed = last.is_none() || !prev.endpoints.is_empty() || prev.exists != now.exists;
        return if changed {
            vec![no_endpoints(now.exists)]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    let removed: Vec<TcpAddress> = prev
        .endpoints
        .keys()
        .filter(|a| !now.endpoints.contains_key(a))
        .map(|a| TcpAddress::from(*a))
        .collect();
    if !removed.is_empty() {
        out.push(Update {
            update: Some(update::Update::Remove(AddrSet { addrs: removed })),
        });
    }
    // New addresses, and known ones whose metadata changed (Linkerd re-adds those).
    let added: Vec<WeightedAddr> = now
        .endpoints
        .iter()
        .filter(|(a, e)| prev.endpoints.get(a) != Some(e))
        .map(|(a, e)| weighted(t, a, e))
        .collect();
    if !added.is_empty() {
        out.push(Update {
            update: Some(update::Update::Add(WeightedAddrSet {
                addrs: added,
                metric_labels: set_labels(t),
            })),
        });
    }
    out
}

/// Decrements the active-stream gauge however the stream ends.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

struct StreamState {
    target: Target,
    rx: watch::Receiver<Arc<Snapshot>>,
    last: Option<Arc<Snapshot>>,
    pending: VecDeque<Update>,
    kill: CancellationToken,
    done: bool,
    shared: Arc<Shared>,
    _active: Active,
}

type UpdateStream = Pin<Box<dyn Stream<Item = Result<Update, Status>> + Send>>;

fn update_stream(st: StreamState) -> UpdateStream {
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if let Some(u) = st.pending.pop_front() {
                let delay = st.shared.delay_nanos.load(Ordering::Relaxed);
                if delay > 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_nanos(delay)) => {}
                        _ = st.kill.cancelled() => {
                            st.done = true;
                            return Some((Err(Status::unavailable("stream killed by test")), st));
                        }
                    }
                }
                st.shared.updates.fetch_add(1, Ordering::Relaxed);
                return Some((Ok(u), st));
            }
            let now = st.rx.borrow_and_update().clone();
            let ups = diff(&st.target, st.last.as_deref(), &now);
            st.last = Some(now);
            if !ups.is_empty() {
                st.pending.extend(ups);
                continue;
            }
            tokio::select! {
                _ = st.kill.cancelled() => {
                    st.done = true;
                    return Some((Err(Status::unavailable("stream killed by test")), st));
                }
                r = st.rx.changed() => {
                    if r.is_err() {
                        // The server is shutting down.
                        return None;
                    }
                }
            }
        }
    }))
}

pub struct Svc(pub Arc<Shared>);

#[tonic::async_trait]
impl api::destination_server::Destination for Svc {
    type GetStream = UpdateStream;
    type GetProfileStream = Pin<Box<dyn Stream<Item = Result<DestinationProfile, Status>> + Send>>;

    async fn get(&self, req: Request<GetDestination>) -> Result<Response<Self::GetStream>, Status> {
        let shared = &self.0;
        let req = req.into_inner();
        lock(&shared.tokens).push(req.context_token.clone());
        lock(&shared.paths).push(req.path.clone());
        if req.scheme != "k8s" {
            return Err(Status::invalid_argument(format!(
                "unsupported scheme {:?}",
                req.scheme
            )));
        }
        let target = resolve::parse_path(&req.path)
            .ok_or_else(|| Status::invalid_argument(format!("invalid authority {:?}", req.path)))?;
        let rx = shared.subscribe(&target);
        let kill = lock(&shared.kill).clone();
        shared.opened.fetch_add(1, Ordering::Relaxed);
        shared.active.fetch_add(1, Ordering::Relaxed);
        let st = StreamState {
            target,
            rx,
            last: None,
            pending: VecDeque::new(),
            kill,
            done: false,
            shared: shared.clone(),
            _active: Active(shared.clone()),
        };
        Ok(Response::new(update_stream(st)))
    }

    async fn get_profile(
        &self,
        _req: Request<GetDestination>,
    ) -> Result<Response<Self::GetProfileStream>, Status> {
        Err(Status::unimplemented(
            "GetProfile is not served by the redline test server",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn snap(exists: bool, addrs: &[&str]) -> Snapshot {
        Snapshot {
            exists,
            endpoints: addrs
                .iter()
                .map(|a| {
                    (
                        a.parse::<SocketAddr>().unwrap(),
                        resolve::Endpoint {
                            pod: Some(a.to_string()),
                            node: None,
                        },
                    )
                })
                .collect(),
        }
    }

    fn kinds(us: &[Update]) -> Vec<String> {
        us.iter()
            .map(|u| match u.update.as_ref().unwrap() {
                update::Update::Add(s) => format!("add{}", s.addrs.len()),
                update::Update::Remove(s) => format!("remove{}", s.addrs.len()),
                update::Update::NoEndpoints(n) => format!("none:{}", n.exists),
            })
            .collect()
    }

    #[test]
    fn diffs_follow_linkerd() {
        let t = resolve::parse_path("s.ns.svc.cluster.local:80").unwrap();
        assert_eq!(kinds(&diff(&t, None, &snap(false, &[]))), ["none:false"]);
        assert_eq!(kinds(&diff(&t, None, &snap(true, &[]))), ["none:true"]);
        let two = snap(true, &["10.0.0.1:80", "10.0.0.2:80"]);
        assert_eq!(kinds(&diff(&t, None, &two)), ["add2"]);
        let swap = snap(true, &["10.0.0.2:80", "10.0.0.3:80"]);
        assert_eq!(kinds(&diff(&t, Some(&two), &swap)), ["remove1", "add1"]);
        assert_eq!(
            kinds(&diff(&t, Some(&swap), &snap(true, &[]))),
            ["none:true"]
        );
        assert!(diff(&t, Some(&swap), &swap).is_empty());
        assert!(diff(&t, Some(&snap(true, &[])), &snap(true, &[])).is_empty());
        assert_eq!(
            kinds(&diff(&t, Some(&snap(true, &[])), &snap(false, &[]))),
            ["none:false"]
        );
    }
}
