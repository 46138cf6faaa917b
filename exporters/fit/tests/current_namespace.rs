//! Without `--namespace`, `redline fit --manifests` counts the namespace kubectl would
//! apply them to: the kubeconfig's current context's. Its own test binary, because it
//! points `KUBECONFIG` at a file of its own for the whole process.

mod support;

use redline_fit::{FitArgs, fit_with};
use support::{NAMESPACE, fixtures};

#[tokio::test]
async fn manifests_count_the_kubeconfig_current_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: vps
  cluster: {{server: 'https://127.0.0.1:1'}}
users:
- name: me
  user: {{token: not-used}}
contexts:
- name: shop
  context: {{cluster: vps, user: me, namespace: {NAMESPACE}}}
- name: monitoring
  context: {{cluster: vps, user: me, namespace: kube-system}}
current-context: shop
"
        ),
    )
    .unwrap();
    // SAFETY: the only test of this binary, and nothing else reads the environment
    // while it is set.
    unsafe { std::env::set_var("KUBECONFIG", &kubeconfig) };
    let args = FitArgs {
        manifests: Some(fixtures()),
        ..FitArgs::defaults()
    };
    let report = fit_with(&args, None).await.unwrap();
    assert_eq!(report.scope, format!("namespace {NAMESPACE}"));
    assert!(!report.workloads.is_empty());
    assert!(
        report
            .workloads
            .iter()
            .all(|w| w.namespace.as_deref() == Some(NAMESPACE)),
        "{:?}",
        report.workloads
    );
    assert_eq!(report.skipped_namespaces.get("kube-system"), Some(&1));

    // Switch the context: now only the kube-system DaemonSet counts.
    let text = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .replace("current-context: shop", "current-context: monitoring");
    std::fs::write(&kubeconfig, text).unwrap();
    let report = fit_with(&args, None).await.unwrap();
    let names: Vec<&str> = report.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["node-exporter"]);
}
