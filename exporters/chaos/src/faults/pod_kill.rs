//! pod-kill: choose pods in scope and delete them, hard (grace 0) or gracefully.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use rand::Rng;
use rand::seq::SliceRandom;

use super::{is_terminating, pod_name};
use crate::selector::{Requirement, Selector};

/// How victims are chosen among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pick {
    /// `--count` pods at random (seeded).
    Random,
    /// The `--count` oldest pods (longest running first).
    Oldest,
    /// Every candidate; `--count` is ignored.
    All,
    /// Pods carrying `--role-label` (e.g. an HA database's primary), up to `--count`.
    Role,
}

/// Pods in scope that are not already going away, sorted by name for determinism.
pub async fn candidates(pods: &Api<Pod>, selector: &Selector) -> Result<Vec<Pod>, kube::Error> {
    let lp = ListParams::default().labels(&selector.to_string());
    let mut items: Vec<Pod> = pods
        .list(&lp)
        .await?
        .items
        .into_iter()
        .filter(|p| !is_terminating(p))
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect();
    items.sort_by_key(pod_name);
    Ok(items)
}

/// The selector of the candidates: the role label joins the scope for `Pick::Role`.
pub fn selector_for(scope: &Selector, pick: Pick, role: &(String, String)) -> Selector {
    match pick {
        Pick::Role => scope
            .clone()
            .with(Requirement::Eq(role.0.clone(), role.1.clone())),
        _ => scope.clone(),
    }
}

pub fn choose(mut cands: Vec<Pod>, pick: Pick, count: usize, rng: &mut impl Rng) -> Vec<Pod> {
    match pick {
        Pick::All => cands,
        Pick::Random | Pick::Role => {
            cands.shuffle(rng);
            cands.truncate(count);
            cands
        }
        Pick::Oldest => {
            cands.sort_by(|a, b| {
                let ts = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                ts(a)
                    .cmp(&ts(b))
                    .then_with(|| pod_name(a).cmp(&pod_name(b)))
            });
            cands.truncate(count);
            cands
        }
    }
}

/// Deletes the victims. A pod already gone counts as killed (something beat us to it).
pub async fn kill(pods: &Api<Pod>, victims: &[Pod], grace: Option<u32>) -> Result<(), kube::Error> {
    let dp = DeleteParams {
        grace_period_seconds: grace,
        ..DeleteParams::default()
    };
    for p in victims {
        match pods.delete(&pod_name(p), &dp).await {
            Ok(_) => {}
            Err(e) if super::api_code(&e) == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn pod(name: &str, created: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "creationTimestamp": created}}))
            .unwrap()
    }

    #[test]
    fn picks_are_deterministic_for_a_seed() {
        let cands = vec![
            pod("a", "2024-01-03T00:00:00Z"),
            pod("b", "2024-01-01T00:00:00Z"),
            pod("c", "2024-01-02T00:00:00Z"),
        ];
        let names = |v: Vec<Pod>| v.iter().map(pod_name).collect::<Vec<_>>();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(
            names(choose(cands.clone(), Pick::Oldest, 2, &mut rng)),
            ["b", "c"]
        );
        assert_eq!(choose(cands.clone(), Pick::All, 1, &mut rng).len(), 3);
        let one = names(choose(
            cands.clone(),
            Pick::Random,
            1,
            &mut rand::rngs::StdRng::seed_from_u64(7),
        ));
        let again = names(choose(
            cands,
            Pick::Random,
            1,
            &mut rand::rngs::StdRng::seed_from_u64(7),
        ));
        assert_eq!(one, again);
        assert_eq!(one.len(), 1);
    }
}
