//! `redline dst-client`: many Linkerd `Destination.Get` streams, and how long each
//! scale event of `redline churn` takes to reach every one of them.
//!
//! Parts: [`args`] (flags, `--services` via [`expand`]), [`stream`] (one simulated
//! client's stream lifecycle), [`endpoints`] (the set built from add/remove/no_endpoints),
//! [`events`] (churn's annotations through a kube watch), [`correlate`] (event ->
//! per-stream convergence, per-endpoint latency, fan-out), [`metrics`] with a lock-free
//! [`histogram`].

pub mod args;
pub mod correlate;
pub mod endpoints;
pub mod events;
pub mod expand;
pub mod grpc;
pub mod histogram;
pub mod metrics;
pub mod shared;
pub mod stream;
#[cfg(test)]
mod test_updates;
pub mod verify;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redline_runtime::{Runtime, RuntimeError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

pub use args::{DstClientArgs, Target};
pub use expand::ExpandError;
pub use metrics::Metrics;

use correlate::Correlator;
use stream::{Lifecycle, Shared, StreamSpec};

#[derive(Debug, thiserror::Error)]
pub enum DstClientError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(transparent)]
    Expand(#[from] ExpandError),
    #[error("--destination {destination:?}: {message}")]
    Destination {
        destination: String,
        message: String,
    },
    #[error("watching churn events: {0}")]
    Watch(String),
    #[error("--verify-endpoints: {0}")]
    Verify(String),
}

/// A running set of streams (and, with a watch client, the event correlation).
pub struct DstClient {
    metrics: Metrics,
    correlator: Arc<Correlator>,
    stop: CancellationToken,
    streams: JoinSet<()>,
    helpers: JoinSet<()>,
    targets: Vec<Target>,
    /// (service index, slot, view) of every stream, with --verify-endpoints.
    views: Vec<(usize, u32, verify::View)>,
}

impl DstClient {
    /// Opens `streams_per_service` streams per target; `watch` is the client of the
    /// cluster whose Deployments carry churn's annotations (None: no correlation).
    pub async fn start(
        args: &DstClientArgs,
        metrics: Metrics,
        watch: Option<kube::Client>,
    ) -> Result<Self, DstClientError> {
        args.validate()?;
        let targets = args.targets()?;
        let per_service = args.streams_per_service;
        let services: Vec<(String, u32)> = targets
            .iter()
            .map(|t| (t.name.clone(), per_service))
            .collect();
        let correlator = Arc::new(Correlator::new(
            &services,
            metrics.clone(),
            SystemTime::now(),
            args.converge_timeout,
        ));
        let stop = CancellationToken::new();
        let mut helpers = JoinSet::new();

        let uri = args.destination_uri();
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| DstClientError::Destination {
                destination: args.destination.clone(),
                message: e.to_string(),
            })?
            .tcp_nodelay(true)
            .connect_timeout(args.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let connections = if args.connections == 0 {
            per_service
        } else {
            args.connections
        };
        // Lazy: each channel is one HTTP/2 connection, dialled on first use and redialled
        // by tonic when it breaks, so stream retries are connection retries too.
        let channels: Vec<Channel> = (0..connections).map(|_| endpoint.connect_lazy()).collect();

        let (reset_tx, reset_rx) = watch::channel(0u64);
        if let Some(every) = args.stream_reset_interval {
            let stop = stop.clone();
            helpers.spawn(async move {
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => { reset_tx.send_modify(|n| *n += 1); }
                    }
                }
            });
        } else {
            // Keep the sender alive so receivers never see the channel close.
            helpers.spawn({
                let stop = stop.clone();
                async move {
                    stop.cancelled().await;
                    drop(reset_tx);
                }
            });
        }

        if let Some(client) = watch {
            let namespace = args
                .watch_namespace
                .clone()
                .unwrap_or_else(|| targets[0].namespace.clone());
            let (tx, mut rx) = mpsc::unbounded_channel();
            helpers.spawn(events::watch(client, namespace, tx, stop.clone()));
            let c = correlator.clone();
            helpers.spawn(async move {
                while let Some(e) = rx.recv().await {
                    tracing::debug!(service = %e.service, seq = e.seq, replicas = e.replicas, "scale event");
                    c.event(&e);
                }
            });
        }
        {
            let (c, stop) = (correlator.clone(), stop.clone());
            helpers.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => c.sweep(),
                    }
                }
            });
        }

        let shared = Shared {
            lifecycle: Arc::new(Lifecycle {
                max_lifetime: args.stream_max_lifetime,
                backoff_min: args.backoff_min,
                backoff_max: args.backoff_max,
                connect_timeout: args.connect_timeout,
            }),
            metrics: metrics.clone(),
            correlator: correlator.clone(),
            resets: reset_rx,
            stop: stop.clone(),
        };
        let token: Arc<str> = args.context_token().into();
        let authorities: Vec<Arc<str>> = targets
            .iter()
            .map(|t| Arc::from(t.authority.as_str()))
            .collect();
        metrics.known_services(targets.iter().map(|t| t.name.as_str()));
        let counters: Vec<_> = targets
            .iter()
            .map(|t| {
                metrics
                    .updates_received
                    .get_or_create(&Metrics::service(&t.name))
                    .clone()
            })
            .collect();
        // What the run asked for, before any opens: the judge compares streams_active with it.
        metrics
            .streams_requested
            .set(i64::from(per_service) * authorities.len() as i64);
        let sets: Vec<Arc<shared::ServiceSets>> = targets.iter().map(|_| Arc::default()).collect();
        let mut streams = JoinSet::new();
        let mut views = Vec::new();
        let pace = (args.open_rate > 0).then(|| Duration::from_secs(1) / args.open_rate);
        let mut next_open = tokio::time::Instant::now();
        // Slot-major: simulated client `slot` opens its stream to every service in turn,
        // as one proxy resolving its services would.
        for slot in 0..per_service {
            for (service, authority) in authorities.iter().enumerate() {
                if let Some(p) = pace {
                    next_open += p;
                    tokio::time::sleep_until(next_open).await;
                }
                let view = args.verify_endpoints.then(verify::View::default);
                if let Some(v) = &view {
                    views.push((service, slot, v.clone()));
                }
                let spec = StreamSpec {
                    channel: channels[(slot % connections) as usize].clone(),
                    authority: authority.clone(),
                    context_token: token.clone(),
                    service,
                    slot,
                    updates: counters[service].clone(),
                    sets: sets[service].clone(),
                    view,
                };
                streams.spawn(stream::run(spec, shared.clone()));
            }
        }
        Ok(Self {
            metrics,
            correlator,
            stop,
            streams,
            helpers,
            targets,
            views,
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Compares every stream's endpoint set with the API's EndpointSlices until they agree
    /// or `timeout` passes (needs `--verify-endpoints`, else there is nothing to compare).
    pub async fn verify_endpoints(
        &self,
        client: &kube::Client,
        timeout: Duration,
    ) -> Result<verify::Report, DstClientError> {
        if self.views.is_empty() {
            return Err(DstClientError::Verify(
                "the streams were started without --verify-endpoints".into(),
            ));
        }
        verify::until_agreed(client, &self.targets, &self.views, timeout)
            .await
            .map_err(DstClientError::Verify)
    }

    /// Scale events still waiting for some stream, per service.
    pub fn pending_events(&self) -> Vec<(String, usize)> {
        self.correlator.pending()
    }

    /// Recomputes the endpoint gauges and counts expired events now.
    pub fn sweep(&self) {
        self.correlator.sweep();
    }

    /// Closes every stream and waits (bounded) for the tasks.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let drain = async {
            while self.streams.join_next().await.is_some() {}
            while self.helpers.join_next().await.is_some() {}
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("streams did not end within 10 s; aborting them");
            self.streams.abort_all();
            self.helpers.abort_all();
        }
        self.correlator.sweep();
    }
}

/// Runs the daemon until SIGTERM/SIGINT or `--duration`.
pub async fn run(args: DstClientArgs) -> Result<(), DstClientError> {
    args.validate()?;
    args.targets()?;
    let watch = if args.no_correlate && !args.verify_endpoints {
        None
    } else {
        Some(
            events::client(args.watch_kubeconfig.as_deref())
                .await
                .map_err(DstClientError::Watch)?,
        )
    };
    run_with(args, watch, CancellationToken::new()).await
}

/// Runs the daemon with a given watch client; `stop` ends it like SIGTERM does.
pub async fn run_with(
    args: DstClientArgs,
    watch: Option<kube::Client>,
    stop: CancellationToken,
) -> Result<(), DstClientError> {
    // The correlation watch is off with --no-correlate; the verification still needs the API.
    let verify_client = watch.clone();
    let watch = if args.no_correlate { None } else { watch };
    let mut rt = Runtime::new(&args.common, "dst-client")?;
    let metrics = Metrics::register(rt.registry());
    let running = rt.start().await?;
    let client = match DstClient::start(&args, metrics, watch).await {
        Ok(c) => c,
        Err(e) => {
            running.finish().await?;
            return Err(e);
        }
    };
    running.set_ready(true);
    tracing::info!(
        services = client.targets().len(),
        streams_per_service = args.streams_per_service,
        destination = %args.destination,
        "dst-client started"
    );
    let shutdown = running.shutdown_token();
    let until = args.duration.unwrap_or(Duration::MAX);
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(until) => {}
    }
    let verified = match (&verify_client, args.verify_endpoints) {
        (Some(kube), true) => Some(client.verify_endpoints(kube, args.converge_timeout).await),
        _ => None,
    };
    client.shutdown().await;
    running.finish().await?;
    match verified {
        None => Ok(()),
        Some(Err(e)) => Err(e),
        Some(Ok(r)) if r.mismatches.is_empty() => {
            tracing::info!(
                streams = r.streams,
                api_endpoints = r.api_endpoints,
                "verify-endpoints: every stream holds exactly the endpoints the API holds"
            );
            Ok(())
        }
        Some(Ok(r)) => {
            let first: Vec<String> = r.mismatches.iter().take(5).map(|m| m.to_string()).collect();
            Err(DstClientError::Verify(format!(
                "{} of {} streams differ from the API's EndpointSlices ({} endpoints); first: {}",
                r.mismatches.len(),
                r.streams,
                r.api_endpoints,
                first.join("; ")
            )))
        }
    }
}
