//! partition: two NetworkPolicies that cut traffic between two groups of pods, in both
//! directions, for `--hold`; then they are deleted.
//!
//! NetworkPolicies only allow, so "deny A→B" is written as "B admits everyone except A":
//! B's ingress peers are (for each requirement of A's selector) the pods of the namespace
//! failing it, plus every other namespace. Ingress-only policies on both sides cut new
//! connections either way without touching the pods' egress (DNS keeps working).
//! It needs a CNI that enforces NetworkPolicies (Calico, Cilium, ...): on one that does
//! not (kindnet, flannel alone) the policies are created and change nothing, and the
//! prober shows no interruption.
//! Traffic from outside the cluster (node ports without SNAT to a pod) to the partitioned
//! pods is cut as well: ipBlock peers cannot be used to re-admit it, since some CNIs apply
//! them to pod addresses too, which would re-admit the other side.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use kube::api::{Api, DeleteParams, PostParams};

use super::{MANAGED_BY, api_code};
use crate::selector::Selector;

/// Label naming the run that created a policy.
pub const RUN_LABEL: &str = "redline.dev/chaos-run";

/// The policy that makes `to` refuse traffic from `from` (both already narrowed to scope).
pub fn deny(ns: &str, name: &str, run: &str, from: &Selector, to: &Selector) -> NetworkPolicy {
    let mut peers: Vec<NetworkPolicyPeer> = from
        .0
        .iter()
        .map(|r| NetworkPolicyPeer {
            pod_selector: Some(Selector(vec![r.negated()]).to_api()),
            ..NetworkPolicyPeer::default()
        })
        .collect();
    if from.is_empty() {
        // Everything in the namespace is "from": nothing in it is admitted.
        tracing::warn!(
            policy = name,
            "partition side with an empty selector isolates the other side from the whole namespace"
        );
    }
    peers.push(NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".into(),
                operator: "NotIn".into(),
                values: Some(vec![ns.to_string()]),
            }]),
            match_labels: None,
        }),
        ..NetworkPolicyPeer::default()
    });
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                (RUN_LABEL.to_string(), label_value(run)),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(to.to_api()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(peers),
                ports: None,
            }]),
            egress: None,
        }),
    }
}

/// Both directions: `<prefix>-a` keeps `a` from hearing `b`, `<prefix>-b` the reverse.
pub fn policies(
    ns: &str,
    prefix: &str,
    run: &str,
    a: &Selector,
    b: &Selector,
) -> [NetworkPolicy; 2] {
    [
        deny(ns, &format!("{prefix}-a"), run, b, a),
        deny(ns, &format!("{prefix}-b"), run, a, b),
    ]
}

/// A label value from a run id (63 characters of `[A-Za-z0-9._-]`).
fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

pub async fn create(api: &Api<NetworkPolicy>, p: &NetworkPolicy) -> Result<(), kube::Error> {
    api.create(&PostParams::default(), p).await.map(|_| ())
}

/// Deletes a policy; one already gone is fine.
pub async fn delete(api: &Api<NetworkPolicy>, name: &str) -> Result<(), kube::Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if api_code(&e) == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a pod with `labels` in the policy's namespace is admitted by its peers.
#[cfg(test)]
fn admits(p: &NetworkPolicy, labels: &BTreeMap<String, String>) -> bool {
    p.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0]
        .from
        .as_ref()
        .unwrap()
        .iter()
        .filter(|peer| peer.namespace_selector.is_none())
        .any(|peer| {
            Selector::from_api(peer.pod_selector.as_ref().unwrap())
                .unwrap()
                .matches(labels)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::tests::labels;

    #[test]
    fn each_side_admits_everyone_but_the_other_side() {
        let a: Selector = "app=web,redline.dev/chaos=enabled".parse().unwrap();
        let b: Selector = "app=db,redline.dev/chaos=enabled".parse().unwrap();
        let [pa, pb] = policies("shop", "redline-partition-1", "run 1", &a, &b);
        assert_eq!(pa.metadata.name.as_deref(), Some("redline-partition-1-a"));
        assert_eq!(pa.metadata.labels.as_ref().unwrap()[RUN_LABEL], "run-1");
        // Policy a selects the web pods and refuses the db pods.
        assert_eq!(
            Selector::from_api(pa.spec.as_ref().unwrap().pod_selector.as_ref().unwrap()).unwrap(),
            a
        );
        let web = labels(&[("app", "web"), ("redline.dev/chaos", "enabled")]);
        let db = labels(&[("app", "db"), ("redline.dev/chaos", "enabled")]);
        let db_not_opted_in = labels(&[("app", "db")]);
        let cache = labels(&[("app", "cache"), ("redline.dev/chaos", "enabled")]);
        assert!(!admits(&pa, &db));
        assert!(admits(&pa, &web) && admits(&pa, &cache) && admits(&pa, &db_not_opted_in));
        assert!(!admits(&pb, &web));
        assert!(admits(&pb, &db) && admits(&pb, &cache));
        // Other namespaces stay admitted.
        let ingress = &pa.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0];
        assert!(
            ingress
                .from
                .as_ref()
                .unwrap()
                .iter()
                .any(|p| p.namespace_selector.is_some())
        );
    }
}
