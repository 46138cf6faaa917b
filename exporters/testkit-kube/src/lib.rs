//! An in-process Kubernetes API server subset for tests, speaking the real wire format
//! over plain HTTP/1.1 on loopback, so the real `kube` client can be driven against it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), redline_testkit_kube::Error> {
//! use redline_testkit_kube::{KubeApiServer, KwokConfig};
//! let server = KubeApiServer::builder().kwok(KwokConfig::default()).start().await?;
//! let client = server.client()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! What is modelled: typed CRUD, list paging, label/field selectors, watch with
//! resume/bookmarks/410, server-side apply (forced, without field ownership), merge patches, status
//! subresources, Pod eviction (no PodDisruptionBudgets: a refusal is an injected 429),
//! TokenRequest, PodMetrics, fault injection, and (KWOK mode) controllers
//! that turn Deployments into ready Pods and Services into EndpointSlices.

mod defaults;
mod error;
mod faults;
mod fields;
mod http;
mod kwok;
mod patch;
mod resources;
mod selectors;
mod store;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use error::{ApiError, Error};
pub use faults::{Fault, FaultKind, Verb};
pub use kwok::KwokConfig;
pub use resources::ResourceType;
use selectors::LabelSelector;
pub use store::{Event, EventType, Store};

/// The served resource type of a typed k8s-openapi object, for raw [`Store`] access.
pub fn resource_type<K: k8s_openapi::Resource>() -> Option<&'static ResourceType> {
    resources::of::<K>()
}

/// Server settings. `Default` suits most tests.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Events kept for watches resuming from an older resourceVersion.
    pub history: usize,
    /// Capacity of the change broadcast; a watcher further behind catches up from history.
    pub broadcast_capacity: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Watch duration when the client sends no `timeoutSeconds`.
    pub default_watch_timeout: Duration,
    /// KWOK + endpoints controllers; None serves stored objects only.
    pub kwok: Option<KwokConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            history: 100_000,
            broadcast_capacity: 65_536,
            bookmark_interval: Duration::from_secs(10),
            default_watch_timeout: Duration::from_secs(1800),
            kwok: None,
        }
    }
}

/// Builds a [`KubeApiServer`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: ServerConfig,
}

impl Builder {
    pub fn kwok(mut self, kwok: KwokConfig) -> Self {
        self.config.kwok = Some(kwok);
        self
    }

    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.config.bookmark_interval = every;
        self
    }

    /// Binds 127.0.0.1:0 and starts serving (and the controllers, in KWOK mode).
    pub async fn start(self) -> Result<KubeApiServer, Error> {
        KubeApiServer::start_with(self.config).await
    }
}

/// One container's usage in a PodMetrics object.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub name: String,
    /// A Kubernetes quantity, e.g. "250m".
    pub cpu: String,
    /// A Kubernetes quantity, e.g. "64Mi".
    pub memory: String,
}

impl ContainerUsage {
    pub fn new(name: &str, cpu: &str, memory: &str) -> Self {
        Self {
            name: name.into(),
            cpu: cpu.into(),
            memory: memory.into(),
        }
    }
}

/// State shared by the HTTP handlers, watches and controllers.
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) faults: faults::Faults,
    pub(crate) config: ServerConfig,
    pub(crate) active_watches: AtomicUsize,
    watch_cancel: Mutex<CancellationToken>,
    metrics: Mutex<BTreeMap<(String, String), Vec<ContainerUsage>>>,
    requests: Mutex<BTreeMap<(Verb, String), u64>>,
}

impl Shared {
    pub(crate) fn watch_cancel(&self) -> CancellationToken {
        self.watch_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn count_request(&self, verb: Verb, resource: &str) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((verb, resource.to_string()))
            .or_default() += 1;
    }

    fn metrics_item(&self, ns: &str, pod: &str, usage: &[ContainerUsage]) -> Value {
        let labels = self
            .store
            .get(&resources::PODS, ns, pod)
            .and_then(|p| p.pointer("/metadata/labels").cloned())
            .unwrap_or_else(|| json!({}));
        json!({
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": pod, "namespace": ns, "labels": labels, "creationTimestamp": store::now_time()},
            "timestamp": store::now_time(),
            "window": "10.0s",
            "containers": usage.iter().map(|c| json!({
                "name": c.name, "usage": {"cpu": c.cpu, "memory": c.memory}
            })).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn pod_metrics_list(
        &self,
        ns: Option<&str>,
        q: &std::collections::HashMap<String, String>,
    ) -> Result<(u16, Value), ApiError> {
        let sel = LabelSelector::from_query(q)?;
        let metrics = self
            .metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let items: Vec<Value> = metrics
            .iter()
            .filter(|((n, _), _)| ns.is_none_or(|want| want == n))
            .map(|((n, p), u)| self.metrics_item(n, p, u))
            .filter(|item| sel.matches_object(item))
            .collect();
        Ok((
            200,
            json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                   "metadata": {}, "items": items}),
        ))
    }

    pub(crate) fn pod_metrics_get(&self, ns: &str, pod: &str) -> Result<(u16, Value), ApiError> {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        let usage = metrics
            .get(&(ns.to_string(), pod.to_string()))
            .ok_or_else(|| ApiError::not_found("pods.metrics.k8s.io", pod))?;
        Ok((200, self.metrics_item(ns, pod, usage)))
    }
}

/// A running test API server. Dropping it stops the server and its controllers.
pub struct KubeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl KubeApiServer {
    /// A plain server: no controllers, objects stay as written.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(ServerConfig::default()).await
    }

    /// A server with the KWOK + endpoints controllers at default settings.
    pub async fn start_kwok() -> Result<Self, Error> {
        Self::builder().kwok(KwokConfig::default()).start().await
    }

    /// A server with the KWOK + endpoints controllers at the given settings.
    pub async fn start_kwok_with(kwok: KwokConfig) -> Result<Self, Error> {
        Self::builder().kwok(kwok).start().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub async fn start_with(config: ServerConfig) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let store = Store::new(config.history, config.broadcast_capacity);
        let shared = Arc::new(Shared {
            store,
            faults: faults::Faults::default(),
            config: config.clone(),
            active_watches: AtomicUsize::new(0),
            watch_cancel: Mutex::new(CancellationToken::new()),
            metrics: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(BTreeMap::new()),
        });
        let shutdown = CancellationToken::new();
        if let Some(kwok) = config.kwok.clone() {
            kwok::spawn(shared.store.clone(), kwok, shutdown.child_token());
        }
        tokio::spawn(serve(listener, shared.clone(), shutdown.clone()));
        Ok(Self {
            shared,
            addr,
            shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A `kube::Config` pointing at this server: plain HTTP, no auth, namespace "default".
    pub fn kube_config(&self) -> kube::Config {
        let uri: ::http::Uri = self.url().parse().expect("a loopback URL parses");
        let mut c = kube::Config::new(uri);
        c.default_namespace = "default".into();
        c
    }

    /// A real `kube::Client` for this server. Must be called inside a tokio runtime.
    pub fn client(&self) -> Result<kube::Client, Error> {
        kube::Client::try_from(self.kube_config()).map_err(Error::Client)
    }

    /// A `kube::Client` with kube's built-in retry layer off, so injected 429/503/504
    /// reach the caller on the first attempt. (`client()` keeps kube's default, which
    /// retries those up to 15 times, honouring `Retry-After`.)
    pub fn client_without_retry(&self) -> Result<kube::Client, Error> {
        let mut c = self.kube_config();
        c.default_retry = false;
        kube::Client::try_from(c).map_err(Error::Client)
    }

    /// The raw object store (JSON objects, change broadcast).
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    fn res_of<K: k8s_openapi::Resource>() -> Result<&'static ResourceType, Error> {
        resources::of::<K>()
            .ok_or_else(|| Error::UnknownResource(format!("{}/{}", K::API_VERSION, K::KIND)))
    }

    /// Inserts or overwrites a typed object exactly as given, status included
    /// (no admission, no field management). Returns it as stored.
    pub fn insert<K>(&self, obj: &K) -> Result<K, Error>
    where
        K: k8s_openapi::Resource + Serialize + DeserializeOwned,
    {
        let res = Self::res_of::<K>()?;
        let v = serde_json::to_value(obj)?;
        let stored = self.shared.store.upsert(res, v)?;
        Ok(serde_json::from_value((*stored).clone())?)
    }

    /// A typed object, if present. `ns` is ignored for cluster-scoped types.
    pub fn get<K>(&self, ns: &str, name: &str) -> Option<K>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let res = Self::res_of::<K>().ok()?;
        let v = self
            .shared
            .store
            .get(res, if res.namespaced { ns } else { "" }, name)?;
        serde_json::from_value((*v).clone()).ok()
    }

    /// Typed objects of one namespace (or all, with None).
    pub fn list<K>(&self, ns: Option<&str>) -> Vec<K>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let Ok(res) = Self::res_of::<K>() else {
            return Vec::new();
        };
        let (items, _) = self.shared.store.list(res, ns);
        items
            .iter()
            .filter_map(|v| serde_json::from_value((**v).clone()).ok())
            .collect()
    }

    /// Deletes an object directly (no eviction checks).
    pub fn delete<K: k8s_openapi::Resource>(&self, ns: &str, name: &str) -> Result<(), Error> {
        let res = Self::res_of::<K>()?;
        self.shared.store.delete(res, ns, name, None)?;
        Ok(())
    }

    /// Arms a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Fails the next `times` requests (of any kind) with 500.
    pub fn fail_next_with_500(&self, times: u32) {
        self.inject(Fault::new(FaultKind::InternalError, times));
    }

    /// Adds a fixed delay before every request is served.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.set_latency(latency);
    }

    /// Disarms every fault and removes the latency.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Requests failed on purpose so far.
    pub fn injected_faults(&self) -> u64 {
        self.shared.faults.injected()
    }

    /// Requests seen for `verb` on `resource` ("deployments", "deployments/scale", ...),
    /// counted before fault injection.
    pub fn request_count(&self, verb: Verb, resource: &str) -> u64 {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(verb, resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Open watch streams.
    pub fn active_watches(&self) -> usize {
        self.shared.active_watches.load(Ordering::Relaxed)
    }

    /// Ends every open watch stream (clients see a clean EOF and re-watch).
    pub fn drop_watches(&self) {
        let mut g = self
            .shared
            .watch_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        g.cancel();
        *g = CancellationToken::new();
    }

    /// Forgets the watch history: resuming from any current rv gets 410 Gone.
    pub fn compact(&self) {
        self.shared.store.compact();
    }

    /// Sets the PodMetrics served for one pod (metrics.k8s.io/v1beta1).
    pub fn set_pod_metrics(&self, ns: &str, pod: &str, containers: Vec<ContainerUsage>) {
        self.shared
            .metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ns.to_string(), pod.to_string()), containers);
    }

    /// Pods in `ns` labelled `app=<app>`, the label the test workloads select on.
    pub fn app_pods(&self, ns: &str, app: &str) -> Vec<Pod> {
        self.list::<Pod>(Some(ns))
            .into_iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app"))
                    .is_some_and(|v| v == app)
            })
            .collect()
    }

    /// How many of [`Self::app_pods`] have the Ready condition True.
    pub fn ready_app_pods(&self, ns: &str, app: &str) -> usize {
        self.app_pods(ns, app)
            .iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count()
    }

    /// Waits until `cond` holds, re-checking after every store change and every 10 ms
    /// (for conditions outside the store, like open watches); false on timeout.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.shared.store.subscribe();
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            let tick = tokio::time::sleep(Duration::from_millis(10));
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return cond(self),
                _ = rx.recv() => {}
                _ = tick => {}
            }
        }
    }

    /// Stops serving and stops the controllers.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
        self.drop_watches();
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| http::handle(shared.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                _ = shutdown.cancelled() => {}
            }
        });
    }
}
