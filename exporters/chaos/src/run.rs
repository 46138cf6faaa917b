//! The work loop: watchers up, then faults on schedule, each measured until it recovered,
//! then everything applied is undone.

use std::time::Duration;

use futures::future::OptionFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use redline_runtime::Runtime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ChaosError;
use crate::args::{ChaosArgs, FaultKind};
use crate::data::{DataConfig, DataHandle};
use crate::faults::recovery::{self, Baseline};
use crate::faults::undo::{Action, Undo};
use crate::faults::{Scope, drain, partition, pod_kill};
use crate::metrics::{FaultLabels, InterruptionLabels, Metrics};
use crate::probe::{ProbeConfig, ProbeHandle, ProbeTarget};
use crate::report::{ChaosReport, FaultReport, ProbeSummary};

/// `redline chaos`, against the cluster of the ambient kubeconfig or in-cluster config.
pub async fn run(args: ChaosArgs) -> Result<(), ChaosError> {
    let report = run_with(args, None, CancellationToken::new()).await?;
    print!("{report}");
    Ok(())
}

/// [`run`] with an explicit client and a stop token (cancelling it acts like SIGTERM).
/// Returns the report; undoes whatever was applied before returning, error or not.
pub async fn run_with(
    args: ChaosArgs,
    client: Option<kube::Client>,
    stop: CancellationToken,
) -> Result<ChaosReport, ChaosError> {
    args.validate().map_err(ChaosError::Flags)?;
    let client = crate::given_or_ambient(client).await?;
    let mut rt = Runtime::new(&args.common, "chaos")?;
    let metrics = Metrics::register(rt.registry());
    let running = rt.start().await?;
    let shutdown = running.shutdown_token();
    let bridge = {
        let (stop, shutdown) = (stop.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => shutdown.cancel(),
                _ = shutdown.cancelled() => {}
            }
        })
    };
    let watchers = CancellationToken::new();
    let mut chaos = Chaos {
        run_id: running.testid().to_string(),
        rng: StdRng::seed_from_u64(args.seed),
        args,
        client: Some(client.clone()),
        metrics,
        probes: Vec::new(),
        data: None,
        undo: Undo::default(),
    };
    let outcome = match chaos.start_watchers(&watchers) {
        Ok(()) => {
            running.set_ready(true);
            chaos.run_schedule(&shutdown).await
        }
        Err(e) => Err(e),
    };
    // Whatever happened, nothing applied stays applied.
    let undo_failed = chaos.undo.perform_all(&client).await;
    watchers.cancel();
    bridge.abort();
    running.push_now().await;
    running.finish().await?;
    let mut report = outcome?;
    report.undo_failed = undo_failed
        .iter()
        .map(|(a, e)| format!("{a}: {e}"))
        .collect();
    if let Some((a, e)) = undo_failed.first() {
        print!("{report}");
        return Err(ChaosError::Undo(format!("{a} ({e})")));
    }
    Ok(report)
}

/// When fault `i` (from 0) is due: once at the start, or every interval plus seeded jitter.
pub fn due(
    start: Instant,
    i: u32,
    every: Option<Duration>,
    jitter: Duration,
    rng: &mut StdRng,
) -> Instant {
    let Some(every) = every else { return start };
    let j = if jitter.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_nanos(rng.random_range(0..=jitter.as_nanos().min(u64::MAX as u128) as u64))
    };
    start + every * i + j
}

pub struct Chaos {
    pub args: ChaosArgs,
    pub client: Option<kube::Client>,
    pub metrics: Metrics,
    pub probes: Vec<ProbeHandle>,
    pub data: Option<DataHandle>,
    pub undo: Undo,
    pub rng: StdRng,
    pub run_id: String,
}

/// What the clocks measured for one fault.
#[derive(Debug, Default)]
struct Measured {
    workload: Option<Duration>,
    endpoints: Option<Duration>,
    user: Option<Duration>,
    timed_out: Vec<&'static str>,
    interruptions: Vec<(String, Duration, u64)>,
    lost_writes: u64,
    unverified_reads: u64,
}

impl Chaos {
    pub fn start_watchers(&mut self, cancel: &CancellationToken) -> Result<(), ChaosError> {
        let cfg = ProbeConfig {
            interval: self.args.probe_interval,
            timeout: self.args.probe_timeout,
            successes: self.args.probe_successes,
        };
        for spec in &self.args.probes {
            let mut spec = spec.clone();
            if let ProbeTarget::Http { expect, .. } = &mut spec.target {
                *expect = self.args.probe_expect;
            }
            let m = self.metrics.probe(&spec.name);
            self.probes
                .push(crate::probe::spawn(spec, cfg, m, cancel.child_token())?);
        }
        if let (Some(write), Some(read)) = (&self.args.write, &self.args.read) {
            self.data = Some(crate::data::spawn(
                DataConfig {
                    write: write.clone(),
                    read: read.clone(),
                    shape: crate::data::CheckShape {
                        write_body: self.args.write_body.clone(),
                        write_headers: self.args.write_headers.clone(),
                        read_expect: self.args.read_expect.clone(),
                        session: self.args.data_session,
                    },
                    interval: self.args.write_interval,
                    timeout: self.args.probe_timeout,
                    max_writes: self.args.max_writes,
                    run_id: self.run_id.clone(),
                },
                self.metrics.lost_writes.clone(),
                cancel.child_token(),
            )?);
        }
        Ok(())
    }

    fn client(&self) -> Result<&kube::Client, ChaosError> {
        self.client
            .as_ref()
            .ok_or_else(|| ChaosError::KubeConfig("no Kubernetes client".into()))
    }

    fn scope(&self) -> Scope {
        Scope::new(
            &self.args.namespace,
            self.args.selector.clone(),
            self.args.opt_in(),
        )
    }

    /// Runs the schedule until it is over, `--max-faults` is reached or `stop` fires.
    pub async fn run_schedule(
        &mut self,
        stop: &CancellationToken,
    ) -> Result<ChaosReport, ChaosError> {
        let start = Instant::now();
        let end = start + self.args.duration;
        let mut report = ChaosReport::default();
        for i in 0..self.args.max_faults {
            let at = due(start, i, self.args.every, self.args.jitter, &mut self.rng);
            if self.args.every.is_some() && at >= end {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = stop.cancelled() => break,
            }
            let fault = self.inject_and_measure(i + 1, stop).await?;
            report.faults.push(fault);
            if self.args.every.is_none() || stop.is_cancelled() {
                break;
            }
        }
        report.probes = self
            .probes
            .iter()
            .map(|p| ProbeSummary {
                name: p.name().to_string(),
                attempts: p.attempts(),
                failures: p.failures(),
            })
            .collect();
        if let Some(d) = &self.data {
            report.writes_acknowledged = d.acknowledged();
            report.writes_attempted = d.attempted();
            report.lost_writes = d.lost();
        }
        Ok(report)
    }

    async fn inject_and_measure(
        &mut self,
        seq: u32,
        stop: &CancellationToken,
    ) -> Result<FaultReport, ChaosError> {
        let mut r = FaultReport {
            seq,
            fault: self.args.fault_label(),
            kind: self.args.fault,
            dry_run: self.args.dry_run,
            ..FaultReport::default()
        };
        match self.args.fault {
            FaultKind::PodKill => self.pod_kill(&mut r, stop).await?,
            FaultKind::NodeDrain => self.node_drain(&mut r, stop).await?,
            FaultKind::Partition => self.partition(&mut r, stop).await?,
        }
        if r.dry_run {
            for a in &r.actions {
                println!("dry-run: would {a}");
            }
        }
        Ok(r)
    }

    fn injected(&self, r: &FaultReport) {
        self.metrics
            .faults_injected
            .get_or_create(&FaultLabels {
                fault: r.fault.clone(),
            })
            .inc();
        self.metrics.set_active(&r.fault, &r.target, true);
        tracing::info!(fault = %r.fault, target = %r.target, seq = r.seq, "fault injected");
    }

    async fn pod_kill(
        &mut self,
        r: &mut FaultReport,
        stop: &CancellationToken,
    ) -> Result<(), ChaosError> {
        let client = self.client()?.clone();
        let ns = &self.args.namespace;
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let sel = pod_kill::selector_for(&self.scope().pods, self.args.pick, &self.args.role_label);
        let cands = pod_kill::candidates(&pods, &sel).await?;
        let victims = pod_kill::choose(cands, self.args.pick, self.args.count, &mut self.rng);
        if victims.is_empty() {
            return Err(ChaosError::NoTarget(format!(
                "no pod in {ns} matches {sel}"
            )));
        }
        let names: Vec<String> = victims.iter().map(crate::faults::pod_name).collect();
        r.target = names.join(",");
        let grace = match self.args.grace_period {
            Some(g) => format!("grace period {g}s"),
            None => "the pod's own grace period".into(),
        };
        r.actions = names
            .iter()
            .map(|n| format!("delete pod {ns}/{n} ({grace})"))
            .collect();
        if r.dry_run {
            return Ok(());
        }
        let baseline = recovery::capture(&client, ns, &victims).await?;
        let t0 = Instant::now();
        self.injected(r);
        let killed = pod_kill::kill(&pods, &victims, self.args.grace_period).await;
        let m = match killed {
            Ok(()) => self.measure(t0, t0, &baseline, stop).await,
            Err(e) => {
                self.metrics.set_active(&r.fault, &r.target, false);
                return Err(e.into());
            }
        };
        self.record(r, m);
        Ok(())
    }

    async fn node_drain(
        &mut self,
        r: &mut FaultReport,
        stop: &CancellationToken,
    ) -> Result<(), ChaosError> {
        let client = self.client()?.clone();
        let ns = self.args.namespace.clone();
        let scope = self.scope();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let nodes: Api<Node> = Api::all(client.clone());
        let node = drain::pick_node(
            &nodes,
            &pods,
            &scope,
            self.args.node.as_deref(),
            &mut self.rng,
        )
        .await?
        .map_err(ChaosError::NoTarget)?;
        let victims = drain::pods_on(&pods, &scope, &node).await?;
        r.target = node.clone();
        r.actions.push(format!("cordon node {node}"));
        r.actions.extend(victims.iter().map(|p| {
            format!(
                "evict pod {ns}/{} (retrying PodDisruptionBudget refusals)",
                crate::faults::pod_name(p)
            )
        }));
        r.actions.push(format!(
            "hold {}",
            humantime::format_duration(self.args.hold)
        ));
        r.actions.push(format!("uncordon node {node}"));
        if r.dry_run {
            return Ok(());
        }
        let mut baseline = recovery::capture(&client, &ns, &victims).await?;
        let already = nodes.get(&node).await?.spec.and_then(|s| s.unschedulable) == Some(true);
        let t0 = Instant::now();
        let uncordon = Action::Uncordon { node: node.clone() };
        if already {
            tracing::warn!(node = %node, "node was already cordoned; it stays cordoned after the drain");
        } else {
            self.undo.record(uncordon.clone());
            drain::set_unschedulable(&nodes, &node, true).await?;
        }
        self.injected(r);
        let backoff = drain::EvictBackoff {
            initial: self.args.evict_backoff,
            max: Duration::from_secs(30),
            timeout: self.args.evict_timeout,
        };
        let out = drain::evict_all(
            &pods,
            &victims,
            backoff,
            &self.metrics.evictions_refused,
            stop,
        )
        .await?;
        r.evictions_refused = out.refused;
        r.not_evicted = out.gave_up.clone();
        // Pods that were never evicted are not part of what must recover.
        baseline.faulted = victims
            .iter()
            .filter(|p| out.evicted.contains(&crate::faults::pod_name(p)))
            .map(crate::faults::pod_uid)
            .collect();
        let hold_until = t0 + self.args.hold;
        let measured = self.measure(t0, t0, &baseline, stop).await;
        tokio::select! {
            _ = tokio::time::sleep_until(hold_until) => {}
            _ = stop.cancelled() => {}
        }
        if !already {
            self.undo.perform(&client, &uncordon).await?;
        }
        self.record(r, measured);
        Ok(())
    }

    async fn partition(
        &mut self,
        r: &mut FaultReport,
        stop: &CancellationToken,
    ) -> Result<(), ChaosError> {
        let ns = self.args.namespace.clone();
        let scope = self.scope();
        let (Some(a), Some(b)) = (&self.args.partition_a, &self.args.partition_b) else {
            return Err(ChaosError::Flags(
                "--fault partition needs --partition-a and --partition-b".into(),
            ));
        };
        let (a, b) = (scope.opted_in(a), scope.opted_in(b));
        let prefix = format!("redline-partition-{}", r.seq);
        let policies = partition::policies(&ns, &prefix, &self.run_id, &a, &b);
        r.target = format!("{a} | {b}");
        r.actions = policies
            .iter()
            .map(|p| {
                format!(
                    "create NetworkPolicy {ns}/{}",
                    p.metadata.name.clone().unwrap_or_default()
                )
            })
            .chain([format!(
                "hold {}",
                humantime::format_duration(self.args.hold)
            )])
            .chain(policies.iter().map(|p| {
                format!(
                    "delete NetworkPolicy {ns}/{}",
                    p.metadata.name.clone().unwrap_or_default()
                )
            }))
            .collect();
        if r.dry_run {
            return Ok(());
        }
        let client = self.client()?.clone();
        let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
        let t_cut = Instant::now();
        let mut undo = Vec::new();
        for p in &policies {
            let action = Action::DeletePolicy {
                namespace: ns.clone(),
                name: p.metadata.name.clone().unwrap_or_default(),
            };
            self.undo.record(action.clone());
            undo.push(action);
            partition::create(&api, p).await?;
        }
        self.injected(r);
        tokio::select! {
            _ = tokio::time::sleep(self.args.hold) => {}
            _ = stop.cancelled() => {}
        }
        for a in &undo {
            self.undo.perform(&client, a).await?;
        }
        // The hold is the fault, not the recovery: the clocks start at the heal.
        let healed = Instant::now();
        let measured = self
            .measure(t_cut, healed, &Baseline::default(), stop)
            .await;
        self.record(r, measured);
        Ok(())
    }

    /// Runs the clocks: workload and endpoints together, then the user clock (probes up on
    /// attempts made after those recovered), then the data check.
    async fn measure(
        &self,
        fault_at: Instant,
        t0: Instant,
        b: &Baseline,
        stop: &CancellationToken,
    ) -> Measured {
        let deadline = t0 + self.args.recovery_timeout;
        let poll = self.args.recovery_poll;
        let mut m = Measured::default();
        let ns = self.args.namespace.as_str();
        if let Some(client) = &self.client {
            // A clock runs only where the baseline had something to recover: `None` then.
            let workload = OptionFuture::from(b.has_workloads().then(|| {
                recovery::clock(t0, poll, deadline, || {
                    recovery::workloads_ready(client, ns, b)
                })
            }));
            let endpoints = OptionFuture::from(b.has_services().then(|| {
                recovery::clock(t0, poll, deadline, || {
                    recovery::endpoints_ready(client, ns, b)
                })
            }));
            let (w, e) = tokio::select! {
                r = futures::future::join(workload, endpoints) => r,
                _ = stop.cancelled() => (None, None),
            };
            m.workload = w.flatten();
            m.endpoints = e.flatten();
            if w.is_some_and(|w| w.is_none()) {
                m.timed_out.push("workload");
            }
            if e.is_some_and(|e| e.is_none()) {
                m.timed_out.push("endpoints");
            }
        }
        if !self.probes.is_empty() {
            let after = Instant::now();
            let mut user = Duration::ZERO;
            let mut settled_all = true;
            for p in &self.probes {
                let left = deadline.saturating_duration_since(Instant::now());
                let settled = tokio::select! {
                    s = p.settled(after, left.max(self.args.probe_interval * (self.args.probe_successes + 2))) => s,
                    _ = stop.cancelled() => false,
                };
                settled_all &= settled;
                let seen = p.interruptions_since(fault_at);
                let longest = seen.iter().map(|i| i.length()).max().unwrap_or_default();
                let failed = seen.iter().map(|i| i.failed).sum();
                if let Some(last) = seen.iter().map(|i| i.end).max() {
                    user = user.max(last.saturating_duration_since(t0));
                }
                if !settled && let Some(since) = p.down_since() {
                    user = user.max(Instant::now().saturating_duration_since(since.max(t0)));
                }
                m.interruptions
                    .push((p.name().to_string(), longest, failed));
            }
            m.user = Some(user);
            if !settled_all {
                m.timed_out.push("user");
            }
        }
        if let Some(d) = &self.data {
            let v = d.verify().await;
            m.lost_writes = v.newly_lost;
            m.unverified_reads = v.unverified;
        }
        m
    }

    /// The fault is over: no longer active, and what was measured goes into the metrics
    /// and the report.
    fn record(&self, r: &mut FaultReport, m: Measured) {
        self.metrics.set_active(&r.fault, &r.target, false);
        let fault = r.fault.clone();
        let timeout_value = self.args.recovery_timeout.as_secs_f64();
        for (clock, value) in [
            ("workload", m.workload),
            ("endpoints", m.endpoints),
            ("user", m.user),
        ] {
            if let Some(v) = value {
                self.metrics
                    .observe_recovery(&fault, clock, v.as_secs_f64());
            } else if m.timed_out.contains(&clock) {
                // Not recovered: recorded at the timeout, so the slow-recovery alert fires.
                self.metrics.observe_recovery(&fault, clock, timeout_value);
            }
        }
        for (probe, longest, _) in &m.interruptions {
            self.metrics
                .interruption
                .get_or_create(&InterruptionLabels {
                    fault: fault.clone(),
                    probe: probe.clone(),
                })
                .set(longest.as_secs_f64());
        }
        r.workload = m.workload;
        r.endpoints = m.endpoints;
        r.user = m.user;
        r.timed_out = m.timed_out.iter().map(|s| s.to_string()).collect();
        r.interruptions = m.interruptions;
        r.lost_writes = m.lost_writes;
        r.unverified_reads = m.unverified_reads;
        tracing::info!(fault = %r.fault, seq = r.seq, workload = ?r.workload, endpoints = ?r.endpoints,
            user = ?r.user, lost_writes = r.lost_writes, timed_out = ?r.timed_out, "fault measured");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn schedule_is_seeded_and_bounded_by_jitter() {
        let start = Instant::now();
        let every = Some(Duration::from_secs(60));
        let jitter = Duration::from_secs(10);
        let times = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5)
                .map(|i| due(start, i, every, jitter, &mut rng))
                .collect::<Vec<_>>()
        };
        let a = times(42);
        assert_eq!(a, times(42));
        assert_ne!(a, times(43));
        for (i, t) in a.iter().enumerate() {
            let off = *t - (start + Duration::from_secs(60 * i as u64));
            assert!(off <= jitter, "fault {i} is {off:?} late");
        }
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(due(start, 3, None, jitter, &mut rng), start);
    }
}
