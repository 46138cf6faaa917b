//! The watch: the load's start found, then the HPA read every --poll until the load ended
//! (and --linger passed) or --duration, each reading turned into clocks and series.

use std::time::{Duration, SystemTime};

use redline_runtime::Runtime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::timeline::{Event, Phase, Reading, Timeline};
use super::{HpaReport, HpaWatchArgs, metrics, observe};
use crate::ChaosError;

/// `redline hpa-watch` against the ambient kubeconfig or in-cluster config.
pub async fn run(args: HpaWatchArgs) -> Result<(), ChaosError> {
    let report = run_with(args, None, CancellationToken::new()).await?;
    print!("{report}");
    Ok(())
}

/// [`run`] with an explicit client and a stop token (cancelling it acts like SIGTERM).
pub async fn run_with(
    args: HpaWatchArgs,
    client: Option<kube::Client>,
    stop: CancellationToken,
) -> Result<HpaReport, ChaosError> {
    args.validate().map_err(ChaosError::Flags)?;
    let client = crate::given_or_ambient(client).await?;
    let ns = args.namespace.clone();
    let target = observe::target(&client, &ns, &args.hpa).await?;
    let mut rt = Runtime::new(&args.common, "hpa-watch")?;
    let m = metrics::Metrics::register(rt.registry(), &ns, &args.hpa);
    let running = rt.start().await?;
    let shutdown = running.shutdown_token();
    let stopped = {
        let (stop, shutdown) = (stop.clone(), shutdown.clone());
        async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = shutdown.cancelled() => {}
            }
        }
    };
    tokio::pin!(stopped);
    running.set_ready(true);
    let mut report = HpaReport {
        namespace: ns.clone(),
        hpa: args.hpa.clone(),
        target: format!("{}/{}", target.kind, target.name),
        max_replicas: target.max_replicas,
        ..HpaReport::default()
    };
    let deadline = Instant::now() + args.duration;
    let outcome = watch(
        &args,
        &client,
        &target,
        &m,
        &mut report,
        deadline,
        &mut stopped,
    )
    .await;
    m.set_load_running(false);
    running.push_now().await;
    running.finish().await?;
    outcome?;
    Ok(report)
}

/// Sleeps one poll; false when the watch must end (stopped or past the deadline).
async fn tick(
    poll: Duration,
    deadline: Instant,
    stopped: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> bool {
    let until = (Instant::now() + poll).min(deadline);
    tokio::select! {
        _ = tokio::time::sleep_until(until) => Instant::now() < deadline,
        _ = stopped.as_mut() => false,
    }
}

async fn watch(
    args: &HpaWatchArgs,
    client: &kube::Client,
    target: &observe::Target,
    m: &metrics::Metrics,
    report: &mut HpaReport,
    deadline: Instant,
    stopped: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<(), ChaosError> {
    let ns = args.namespace.as_str();
    // The load's start, as an Instant on this clock.
    let t0 = match &args.load_job {
        None => Instant::now(),
        Some(job) => loop {
            match observe::load_job(client, ns, job).await {
                Ok(observe::LoadJob {
                    started: Some(at), ..
                }) => {
                    let ago = SystemTime::now().duration_since(at).unwrap_or_default();
                    tracing::info!(job = %job, seconds_ago = ago.as_secs_f64(), "load started");
                    break Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, job = %job, "reading the load Job failed; retrying")
                }
            }
            if !tick(args.poll, deadline, stopped).await {
                tracing::warn!(job = %job, "the load Job never started; nothing was timed");
                return Ok(());
            }
        },
    };
    report.load_started = true;
    m.set_load_running(true);
    let first = observe::snapshot(client, ns, &args.hpa, target).await?;
    let mut timeline = Timeline::new(first.spec);
    report.initial_replicas = first.spec;
    tracing::info!(hpa = %args.hpa, replicas = first.spec, "clocks started");
    let mut linger_until: Option<Instant> = None;
    loop {
        match observe::snapshot(client, ns, &args.hpa, target).await {
            Ok(s) => {
                let at = t0.elapsed();
                for e in timeline.observe(Reading {
                    at,
                    desired: s.desired(),
                    ready: s.ready,
                }) {
                    match e {
                        Event::ScaledUp { at, to } => {
                            tracing::info!(seconds = at.as_secs_f64(), to, "first scale-up")
                        }
                        Event::ReplicasReady { at, replicas } => {
                            tracing::info!(seconds = at.as_secs_f64(), replicas, "replicas Ready");
                            m.set_replica_ready(replicas, at.as_secs_f64());
                        }
                    }
                }
                m.set_replicas("desired", s.desired());
                m.set_replicas("ready", s.ready);
                for p in Phase::ALL {
                    m.set_reaction(p.as_str(), timeline.clock(p, at).as_secs_f64());
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the HPA or its target failed; retrying"),
        }
        if let (Some(job), None) = (&args.load_job, linger_until) {
            match observe::load_job(client, ns, job).await {
                Ok(j) if j.finished => {
                    tracing::info!(job = %job, "the load finished");
                    report.load_finished = true;
                    m.set_load_running(false);
                    linger_until = Some(Instant::now() + args.linger);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the load Job failed; retrying"),
            }
        }
        let end = linger_until.map_or(deadline, |l| l.min(deadline));
        if !tick(args.poll, end, stopped).await {
            break;
        }
    }
    report.scale_up = timeline.reached(Phase::ScaleUp);
    report.ready = timeline
        .ready_times()
        .iter()
        .map(|(n, at)| (*n, *at))
        .collect();
    report.peak_desired = timeline.peak_desired;
    report.peak_ready = timeline.peak_ready;
    Ok(())
}
