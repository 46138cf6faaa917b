//! The daemon's life: the runtime and the sampler set up from the flags, discovery and the
//! PodMetrics reader started as the mode needs them, then the fetch loop until a stop.

use std::net::SocketAddr;

use redline_runtime::Runtime;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{PprofError, PprofSamplerArgs};

use crate::archive::{Archive, ArchiveConfig};
use crate::args::Mode;
use crate::discovery::{self, DiscoveryConfig};
use crate::metrics::Metrics;
use crate::resources::ResourceReader;
use crate::sampler::{Sampler, SamplerSettings};

/// Hooks for embedding and tests; `run` uses none of them.
#[derive(Default)]
pub struct RunOptions {
    /// Client for discovery and PodMetrics; default: in-cluster config or kubeconfig,
    /// created only when the mode needs one.
    pub kube_client: Option<kube::Client>,
    /// Stops the daemon like SIGTERM does.
    pub stop: Option<CancellationToken>,
    /// Receives the admin server's bound address once it listens.
    pub started: Option<oneshot::Sender<SocketAddr>>,
}

pub async fn run(args: PprofSamplerArgs) -> Result<(), PprofError> {
    run_with(args, RunOptions::default()).await
}

pub async fn run_with(args: PprofSamplerArgs, opts: RunOptions) -> Result<(), PprofError> {
    let cfg = args.sampler;
    let mode = cfg.mode()?;
    let resources = cfg.resources_enabled(&mode);
    let mut rt = Runtime::new(&args.common, "pprof-sampler")?;
    let metrics = Metrics::register(rt.registry());
    let archive = cfg
        .archive_dir
        .clone()
        .map(|dir| {
            Archive::open(ArchiveConfig {
                dir,
                max_bytes: cfg.archive_max_bytes,
                max_files: cfg.archive_max_files,
            })
        })
        .transpose()?;
    let client = match (&mode, resources, opts.kube_client) {
        (_, _, Some(c)) => Some(c),
        (Mode::Discover, _, None) | (_, true, None) => Some(kube::Client::try_default().await?),
        _ => None,
    };
    let settings = SamplerSettings {
        interval: cfg.interval,
        timeout: cfg.timeout,
        gc_every: cfg.gc_every,
        top: cfg.top,
        max_body_bytes: cfg.max_body_bytes,
        testid: rt.testid().to_string(),
    };
    let sampler = Sampler::new(settings, metrics.clone(), archive)?;

    let running = rt.start().await?;
    let stop = running.shutdown_token();
    let mut background = JoinSet::new();
    if let Some(external) = opts.stop {
        let stop = stop.clone();
        background.spawn(async move {
            tokio::select! {
                _ = external.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
    }
    let initial = match &mode {
        Mode::Static(t) => t.clone(),
        Mode::Sidecar(t) => vec![t.clone()],
        Mode::Discover => Vec::new(),
    };
    let (tx, rx) = watch::channel(initial);
    if let (Mode::Discover, Some(client)) = (&mode, &client) {
        let dcfg = DiscoveryConfig {
            namespace: cfg.namespace.clone(),
            selector: cfg.selector.clone(),
            port: cfg.port,
            path: cfg.path.clone(),
            goroutine_path: (!cfg.no_goroutines).then(|| cfg.goroutine_path.clone()),
            container: cfg.container.clone(),
        };
        background.spawn(discovery::run(client.clone(), dcfg, tx, stop.clone()));
    }
    if let (true, Some(client)) = (resources, &client) {
        let selector = cfg.resources_selector.as_deref().unwrap_or(&cfg.selector);
        let reader = ResourceReader::new(client.clone(), &cfg.namespace, selector, metrics);
        background.spawn(reader.run(cfg.interval, cfg.timeout, stop.clone()));
    }
    running.set_ready(true);
    if let Some(started) = opts.started {
        let _ = started.send(running.admin_addr());
    }
    tracing::info!(?mode, interval = ?cfg.interval, "pprof-sampler running");
    sampler.run(rx, stop.clone()).await;
    // The sampler only returns once `stop` is cancelled; the background loops watch it too.
    while background.join_next().await.is_some() {}
    running.finish().await?;
    Ok(())
}
