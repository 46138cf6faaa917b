//! One reading: the workloads in scope (manifests or cluster), their pods' actual usage
//! (cluster only), and the report against every budget. `redline fit` takes one;
//! `--watch` takes one every interval.

use std::collections::BTreeMap;

use kube::core::SelectorExt;

use crate::args::FitArgs;
use crate::error::FitError;
use crate::report::FitReport;
use crate::scope::Scope;
use crate::usage::{self, UsageStatus};
use crate::workloads::Workload;
use crate::{cluster, manifests};

/// The namespace kubectl would use: the client's (its kubeconfig context's, or the
/// in-cluster service account's), else the ambient configuration's, else `default`.
pub async fn current_namespace(client: Option<&kube::Client>) -> String {
    match client {
        Some(c) => c.default_namespace().to_string(),
        None => kube::Config::infer()
            .await
            .map(|c| c.default_namespace)
            .unwrap_or_else(|_| "default".into()),
    }
}

/// Whether a pod counts towards usage: every pod in scope when no `--selector` narrows
/// the workloads, else only pods of the selected workloads (by their `spec.selector`), so
/// that monitoring left out of the requests is left out of the usage too.
fn pod_counts<'a>(
    narrowed: bool,
    workloads: &'a [Workload],
) -> impl Fn(&str, &BTreeMap<String, String>) -> bool + 'a {
    move |ns, labels| {
        !narrowed
            || workloads.iter().any(|w| {
                w.namespace.as_deref().is_none_or(|wns| wns == ns)
                    && w.pod_selector
                        .as_ref()
                        .is_some_and(|s| !s.selects_all() && s.matches(labels))
            })
    }
}

/// The report without printing; `client` is used when no `--manifests` are given.
pub async fn fit_with(
    args: &FitArgs,
    client: Option<&kube::Client>,
) -> Result<FitReport, FitError> {
    args.validate().map_err(FitError::Flags)?;
    let current = match (args.all_namespaces, &args.namespace) {
        (false, None) => current_namespace(client).await,
        _ => String::new(),
    };
    let scope = Scope::resolve(args.namespace.as_deref(), args.all_namespaces, &current);
    let keep = |w: &Workload| args.selector.matches(&w.labels);
    let (workloads, skipped, usage) = match (&args.manifests, client) {
        (Some(path), _) => {
            let found = manifests::from_manifests(path, &scope, args.nodes)?;
            let chosen: Vec<Workload> = found.workloads.into_iter().filter(keep).collect();
            (chosen, found.skipped, UsageStatus::NotRead)
        }
        (None, Some(client)) => {
            let all = cluster::from_cluster(client, &scope, args.nodes).await?;
            let chosen: Vec<Workload> = all.into_iter().filter(keep).collect();
            let narrowed = !args.selector.selects_all();
            let usage = usage::read(client, &scope, pod_counts(narrowed, &chosen)).await;
            (chosen, BTreeMap::new(), usage)
        }
        (None, None) => {
            return Err(FitError::Flags(
                "no --manifests and no cluster client".into(),
            ));
        }
    };
    let mut report = FitReport::compute(workloads, usage, &args.budgets, args.thresholds());
    report.scope = scope.to_string();
    report.skipped_namespaces = skipped;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::tests::labels;

    #[test]
    fn usage_counts_the_pods_of_the_selected_workloads_only() {
        let web = Workload {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
            replicas: 1,
            cpu_request_millis: 0,
            memory_request_bytes: 0,
            cpu_limit_millis: None,
            memory_limit_bytes: None,
            labels: BTreeMap::new(),
            pod_selector: Some(crate::selector::parse("app=web").unwrap()),
        };
        let counts = pod_counts(true, std::slice::from_ref(&web));
        assert!(counts(
            "shop",
            &labels(&[("app", "web"), ("pod-template-hash", "x")])
        ));
        assert!(!counts("shop", &labels(&[("app", "prometheus")])));
        assert!(
            !counts("other", &labels(&[("app", "web")])),
            "same labels, other namespace"
        );
        let everything = pod_counts(false, &[]);
        assert!(everything("shop", &labels(&[("app", "prometheus")])));
    }
}
