//! The daemon's life: validate the plan, apply the services, play the timeline over their
//! replica counts until it ends or a stop, then clean up (unless --keep).

use std::sync::Arc;

use futures::StreamExt;
use redline_runtime::Runtime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::Kube;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::objects::Template;
use crate::workers::{Progress, Workers};
use crate::{ChurnArgs, ChurnError, kube_client, schedule, timeline, workers};

fn valid_label_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Runs the daemon with a client built from `--kubeconfig` (or the environment).
pub async fn run(args: ChurnArgs) -> Result<(), ChurnError> {
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    run_with_client(args, client).await
}

/// What a finished run did, for callers that embed churn (tests, benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChurnReport {
    pub steps_dispatched: u64,
    pub stopped_early: bool,
    pub deleted: usize,
}

/// Runs the daemon against `client`.
pub async fn run_with_client(args: ChurnArgs, client: kube::Client) -> Result<(), ChurnError> {
    run_report(args, client, CancellationToken::new())
        .await
        .map(|_| ())
}

/// Runs the daemon; `stop` ends it like SIGTERM does.
pub async fn run_report(
    args: ChurnArgs,
    client: kube::Client,
    stop: CancellationToken,
) -> Result<ChurnReport, ChurnError> {
    // Validate everything before touching the cluster.
    let plan = if args.cleanup {
        None
    } else {
        Some(args.plan()?)
    };
    let mut rt = Runtime::new(&args.common, "churn")?;
    let metrics = Metrics::register(rt.registry());
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| rt.testid().to_string());
    if !valid_label_value(&run_id) {
        return Err(ChurnError::Flag {
            flag: "--run-id",
            message: format!("{run_id:?} is not a valid label value (<= 63 of [A-Za-z0-9-_.])"),
        });
    }
    let running = rt.start().await?;
    let shutdown = running.shutdown_token();
    let stop_fwd = stop.clone();
    let forward = tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.cancelled() => stop_fwd.cancel(),
            _ = stop_fwd.cancelled() => {}
        }
    });
    let limiter = Arc::new(RateLimiter::new(args.qps, args.burst));
    let kube = Kube::new(
        client,
        &args.namespace,
        limiter,
        metrics.clone(),
        args.max_retries,
    );
    let template = Arc::new(Template {
        namespace: args.namespace.clone(),
        run: run_id,
        port: args.port,
        image: args.image.clone(),
        node_selector: args.node_selector.clone(),
        tolerations: args.tolerations.clone(),
        service_labels: args.service_labels.clone(),
    });
    let result = match plan {
        None => {
            running.set_ready(true);
            kube.delete_selected(&template.run_selector())
                .await
                .map(|deleted| {
                    tracing::info!(deleted, selector = %template.run_selector(), "cleanup done");
                    ChurnReport {
                        steps_dispatched: 0,
                        stopped_early: false,
                        deleted,
                    }
                })
        }
        Some(plan) => churn(&args, plan, &kube, &template, &metrics, &running, &stop).await,
    };
    forward.abort();
    running.finish().await?;
    result
}

async fn churn(
    args: &ChurnArgs,
    plan: timeline::Plan,
    kube: &Kube,
    template: &Arc<Template>,
    metrics: &Metrics,
    running: &redline_runtime::Running,
    stop: &CancellationToken,
) -> Result<ChurnReport, ChurnError> {
    let names: Vec<String> = (1..=plan.services)
        .map(|i| format!("{}-{i}", args.service_prefix))
        .collect();
    if args.create_namespace {
        kube.ensure_namespace().await?;
    }
    let applied: Vec<Result<(), ChurnError>> = futures::stream::iter(names.clone())
        .map(|name| {
            let (kube, obj) = (kube.clone(), template.service(&name));
            async move { kube.apply_service(&obj, &name).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    applied.into_iter().collect::<Result<Vec<()>, _>>()?;

    let progress = Progress::new(names.clone(), metrics.clone());
    let watch_stop = CancellationToken::new();
    let watch = tokio::spawn(workers::watch_status(
        kube.clone(),
        template.run_selector(),
        progress.clone(),
        watch_stop.clone(),
    ));
    let workers = Workers::spawn(
        kube,
        template,
        &names,
        args.pattern.as_str(),
        &progress,
        metrics,
        stop,
    );
    running.set_ready(true);
    tracing::info!(pattern = args.pattern.as_str(), services = plan.services, end = ?plan.end(), "churn started");
    let mut dispatched = 0u64;
    let ended = schedule::drive(
        timeline::timeline(&plan, args.seed),
        Instant::now(),
        plan.end(),
        stop,
        |step| {
            dispatched += 1;
            workers.dispatch(step);
        },
    )
    .await;
    workers.join().await;
    running.push_now().await;
    let deleted = if args.keep {
        0
    } else {
        kube.delete_selected(&template.run_selector()).await?
    };
    watch_stop.cancel();
    let _ = watch.await;
    tracing::info!(
        ?ended,
        dispatched,
        deleted,
        in_flight = progress.in_flight(),
        "churn finished"
    );
    Ok(ChurnReport {
        steps_dispatched: dispatched,
        stopped_early: ended == schedule::Ended::Stopped,
        deleted,
    })
}
