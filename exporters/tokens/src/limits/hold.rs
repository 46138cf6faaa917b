//! Raise, hold, restore: the limits are raised before the run, held while it runs (a
//! command given after `--`, a `--duration`, or until SIGTERM/SIGINT — the chart's
//! sidecar is stopped that way when the load Job's container ends), and restored after
//! it, whichever way it ended. A raise that fails half-way restores what it had raised.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::error::{LimitsError, api_message};
use super::plan::{Originals, originals_of, plan_raise, plan_restore};
use super::report::{Ended, LimitsReport, PolicyChange};
use super::spec::{PolicyKind, PolicyRef, Raise};

/// The field manager of redline's patches (shown in the policy's managedFields).
pub const FIELD_MANAGER: &str = "redline-limits";

/// How the hold ends when nothing else ends it.
#[derive(Debug, Clone, Default)]
pub struct Hold {
    /// The run: started once the limits are raised; they are restored when it exits.
    pub command: Vec<String>,
    /// Restore after this long.
    pub duration: Option<Duration>,
    /// How long the command has to stop after SIGTERM before it is killed.
    pub grace: Duration,
}

struct Policies {
    client: kube::Client,
    namespace: String,
    resources: BTreeMap<PolicyKind, ApiResource>,
}

impl Policies {
    /// Finds the served version of each kind through discovery, so a cluster serving
    /// TokenRateLimitPolicy as v1alpha1 or v1 is handled alike.
    async fn new(
        client: kube::Client,
        namespace: &str,
        kinds: impl IntoIterator<Item = PolicyKind>,
    ) -> Result<Self, LimitsError> {
        let group = match kube::discovery::group(&client, "kuadrant.io").await {
            Ok(g) => Some(g),
            Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => None,
            Err(e) => return Err(LimitsError::Discovery(e)),
        };
        // Each kind at its own most stable version: not the group's preferred version
        // alone, which holds only RateLimitPolicy (v1) while TokenRateLimitPolicy is v1alpha1.
        let served = group
            .map(|g| g.resources_by_stability())
            .unwrap_or_default();
        let mut resources = BTreeMap::new();
        for kind in kinds {
            let (resource, _) = served
                .iter()
                .find(|(r, _)| r.kind == kind.kind())
                .ok_or(LimitsError::NotServed { kind: kind.kind() })?;
            resources.insert(kind, resource.clone());
        }
        Ok(Self {
            client,
            namespace: namespace.to_string(),
            resources,
        })
    }

    fn api(&self, kind: PolicyKind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &self.resources[&kind])
    }

    fn api_error(&self, policy: &PolicyRef, action: &'static str, e: &kube::Error) -> LimitsError {
        LimitsError::Api {
            policy: policy.clone(),
            namespace: self.namespace.clone(),
            action,
            message: api_message(e),
        }
    }

    async fn get(&self, policy: &PolicyRef) -> Result<Value, LimitsError> {
        let object = self
            .api(policy.kind)
            .get(&policy.name)
            .await
            .map_err(|e| self.api_error(policy, "get", &e))?;
        Ok(serde_json::to_value(object).expect("objects serialise"))
    }

    async fn patch(
        &self,
        policy: &PolicyRef,
        action: &'static str,
        patch: &Value,
    ) -> Result<(), LimitsError> {
        self.api(policy.kind)
            .patch(
                &policy.name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Merge(patch),
            )
            .await
            .map_err(|e| self.api_error(policy, action, &e))?;
        Ok(())
    }

    async fn raise(
        &self,
        policy: &PolicyRef,
        raises: &[&Raise],
    ) -> Result<(Originals, PolicyChange), LimitsError> {
        let object = self.get(policy).await?;
        let plan = plan_raise(&object, raises).map_err(|source| LimitsError::Plan {
            policy: policy.clone(),
            namespace: self.namespace.clone(),
            source,
        })?;
        self.patch(policy, "raise refused", &plan.patch).await?;
        tracing::info!(%policy, namespace = %self.namespace, changes = ?plan.changes, "limits raised");
        Ok((
            plan.originals,
            PolicyChange {
                policy: policy.clone(),
                changes: plan.changes,
            },
        ))
    }

    async fn restore(&self, policy: &PolicyRef, originals: &Originals) -> Result<(), LimitsError> {
        self.patch(policy, "restore refused", &plan_restore(originals))
            .await?;
        tracing::info!(%policy, namespace = %self.namespace, "limits restored");
        Ok(())
    }

    /// Restores every policy it can; one failure does not stop the others.
    async fn restore_all(&self, raised: &[(PolicyRef, Originals)]) -> Result<(), LimitsError> {
        let mut failed = Vec::new();
        for (policy, originals) in raised.iter().rev() {
            if let Err(e) = self.restore(policy, originals).await {
                tracing::error!(error = %e, "restore failed");
                failed.push(format!(
                    "{e}; originals: {}",
                    serde_json::to_string(originals).unwrap_or_default()
                ));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(LimitsError::Restore(failed.join("; ")))
        }
    }
}

/// Groups raises by policy, in the order the policies were first named.
fn by_policy(raises: &[Raise]) -> Vec<(PolicyRef, Vec<&Raise>)> {
    let mut out: Vec<(PolicyRef, Vec<&Raise>)> = Vec::new();
    for r in raises {
        match out.iter_mut().find(|(p, _)| *p == r.policy) {
            Some((_, v)) => v.push(r),
            None => out.push((r.policy.clone(), vec![r])),
        }
    }
    out
}

/// Raises `raises` in `namespace`, calls `on_raised` (the chart's sidecar turns ready
/// then, and the load starts), holds until the run ends or `stop` is cancelled, and
/// restores the originals.
pub async fn raise_hold_restore(
    client: kube::Client,
    namespace: &str,
    raises: &[Raise],
    hold: &Hold,
    stop: &CancellationToken,
    on_raised: impl FnOnce(),
) -> Result<LimitsReport, LimitsError> {
    let grouped = by_policy(raises);
    let policies = Policies::new(client, namespace, grouped.iter().map(|(p, _)| p.kind)).await?;
    let mut raised: Vec<(PolicyRef, Originals)> = Vec::new();
    let mut changes = Vec::new();
    for (policy, list) in &grouped {
        match policies.raise(policy, list).await {
            Ok((originals, change)) => {
                raised.push((policy.clone(), originals));
                changes.push(change);
            }
            Err(e) => {
                policies.restore_all(&raised).await?;
                return Err(e);
            }
        }
    }
    on_raised();
    let ended = run(hold, stop).await;
    policies.restore_all(&raised).await?;
    let ended = ended?;
    if let Ended::Command(status) = &ended
        && !status.success()
    {
        return Err(LimitsError::CommandFailed { status: *status });
    }
    Ok(LimitsReport {
        namespace: namespace.to_string(),
        policies: changes,
        ended,
    })
}

/// `--restore`: puts back what an earlier run left raised (from its annotation).
pub async fn restore_left_raised(
    client: kube::Client,
    namespace: &str,
    policies_named: &[PolicyRef],
) -> Result<LimitsReport, LimitsError> {
    let policies = Policies::new(client, namespace, policies_named.iter().map(|p| p.kind)).await?;
    let mut raised = Vec::new();
    for policy in policies_named {
        let object = policies.get(policy).await?;
        let originals = originals_of(&object).map_err(|source| LimitsError::Plan {
            policy: policy.clone(),
            namespace: namespace.to_string(),
            source,
        })?;
        raised.push((policy.clone(), originals));
    }
    policies.restore_all(&raised).await?;
    Ok(LimitsReport {
        namespace: namespace.to_string(),
        policies: Vec::new(),
        ended: Ended::RestoreOnly(policies_named.to_vec()),
    })
}

/// Holds until the command exits, the duration passes or `stop` is cancelled.
async fn run(hold: &Hold, stop: &CancellationToken) -> Result<Ended, LimitsError> {
    let Some((program, args)) = hold.command.split_first() else {
        return Ok(match hold.duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => Ended::Duration(d),
                _ = stop.cancelled() => Ended::Stopped,
            },
            None => {
                stop.cancelled().await;
                Ended::Stopped
            }
        });
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| LimitsError::Spawn {
            program: program.clone(),
            source,
        })?;
    tokio::select! {
        status = child.wait() => {
            let status = status.map_err(|source| LimitsError::Spawn { program: program.clone(), source })?;
            Ok(Ended::Command(status))
        }
        _ = stop.cancelled() => {
            // Pass the stop on as SIGTERM so the run flushes its own results, then
            // restore; a run that outlives the grace is killed.
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) with a pid this process spawned and still owns (not
                // yet reaped, so the pid cannot have been reused).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
            if tokio::time::timeout(hold.grace, child.wait()).await.is_err() {
                tracing::warn!(grace = ?hold.grace, "the run did not stop within the grace; killing it");
                let _ = child.kill().await;
            }
            Ok(Ended::Stopped)
        }
    }
}
