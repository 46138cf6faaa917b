//! Per-service workers that apply scale steps in order, and the Deployment watch that
//! tells when a service has reached its target (events in flight, current replicas).

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::Kube;
use crate::metrics::{Metrics, ServicePattern};
use crate::objects::{Stamp, Template};
use crate::timeline::ScaleStep;

#[derive(Debug, Default, Clone, Copy)]
struct ServiceState {
    target: Option<u32>,
    replicas: u32,
    ready: u32,
    pending: bool,
}

/// What is asked of each service and what the API server reports back.
#[derive(Debug)]
pub struct Progress {
    names: Vec<String>,
    states: Mutex<Vec<ServiceState>>,
    metrics: Metrics,
}

impl Progress {
    pub fn new(names: Vec<String>, metrics: Metrics) -> Arc<Self> {
        let states = Mutex::new(vec![ServiceState::default(); names.len()]);
        Arc::new(Self {
            names,
            states,
            metrics,
        })
    }

    fn settle(&self, st: &mut ServiceState) {
        let done = st.target.is_some_and(|t| st.ready == t && st.replicas == t);
        if st.pending && done {
            st.pending = false;
            self.metrics.events_in_flight.dec();
        } else if !st.pending && !done && st.target.is_some() {
            st.pending = true;
            self.metrics.events_in_flight.inc();
        }
    }

    pub fn applied(&self, service: usize, replicas: u32) {
        let mut g = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut g[service];
        st.target = Some(replicas);
        self.settle(st);
        self.metrics
            .replicas_target
            .get_or_create(&Metrics::service(&self.names[service]))
            .set(i64::from(replicas));
    }

    fn observed(&self, name: &str, replicas: u32, ready: u32) {
        let Some(i) = self.names.iter().position(|n| n == name) else {
            return;
        };
        let mut g = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut g[i];
        st.replicas = replicas;
        st.ready = ready;
        self.settle(st);
        self.metrics
            .replicas_current
            .get_or_create(&Metrics::service(name))
            .set(i64::from(ready));
    }

    pub fn in_flight(&self) -> usize {
        let g = self.states.lock().unwrap_or_else(|e| e.into_inner());
        g.iter().filter(|s| s.pending).count()
    }
}

/// Follows the run's Deployments until `stop`.
pub async fn watch_status(
    kube: Kube,
    selector: String,
    progress: Arc<Progress>,
    stop: CancellationToken,
) {
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), &kube.namespace);
    let stream = watcher(api, watcher::Config::default().labels(&selector))
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    // Ends when stopped or when the watch itself ends.
    while let Some(Some(next)) = stop.run_until_cancelled(stream.next()).await {
        match next {
            Ok(d) => {
                let name = d.metadata.name.unwrap_or_default();
                let status = d.status.unwrap_or_default();
                let n = |v: Option<i32>| u32::try_from(v.unwrap_or(0)).unwrap_or(0);
                progress.observed(&name, n(status.replicas), n(status.ready_replicas));
            }
            Err(e) => tracing::warn!(error = %e, "watching Deployments"),
        }
    }
}

/// One ordered queue and task per service.
pub struct Workers {
    senders: Vec<mpsc::UnboundedSender<ScaleStep>>,
    tasks: JoinSet<()>,
}

impl Workers {
    pub fn spawn(
        kube: &Kube,
        template: &Arc<Template>,
        names: &[String],
        pattern: &'static str,
        progress: &Arc<Progress>,
        metrics: &Metrics,
        stop: &CancellationToken,
    ) -> Self {
        let mut senders = Vec::new();
        let mut tasks = JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let (tx, mut rx) = mpsc::unbounded_channel::<ScaleStep>();
            senders.push(tx);
            let (kube, template, progress, stop) = (
                kube.clone(),
                template.clone(),
                progress.clone(),
                stop.clone(),
            );
            let name = name.clone();
            let counter = metrics
                .scale_events
                .get_or_create(&ServicePattern {
                    service: name.clone(),
                    pattern: pattern.into(),
                })
                .clone();
            tasks.spawn(async move {
                loop {
                    let step = tokio::select! {
                        biased;
                        _ = stop.cancelled() => return,
                        s = rx.recv() => match s { Some(s) => s, None => return },
                    };
                    let r = kube
                        .apply_deployment(&name, || {
                            template.deployment(&name, &Stamp::now(step.seq, step.replicas))
                        })
                        .await;
                    match r {
                        Ok(()) => {
                            counter.inc();
                            progress.applied(i, step.replicas);
                        }
                        Err(e) => {
                            tracing::error!(service = %name, seq = step.seq, replicas = step.replicas, error = %e, "scale step failed")
                        }
                    }
                }
            });
        }
        Self { senders, tasks }
    }

    pub fn dispatch(&self, step: ScaleStep) {
        if let Some(tx) = self.senders.get(step.service as usize) {
            let _ = tx.send(step);
        }
    }

    /// Lets every queue drain (or the stop token end them) and waits for the tasks.
    pub async fn join(mut self) {
        self.senders.clear();
        while self.tasks.join_next().await.is_some() {}
    }
}
