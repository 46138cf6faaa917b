//! `redline hpa-watch` against the real HPA controller of the local control plane
//! (hack/cluster: kube-controller-manager's horizontal-pod-autoscaler-controller, metrics-server
//! reading KWOK's emulated kubelets). Load is CPU usage: KWOK reports each pod's usage from its
//! `kwok.x-k8s.io/usage-cpu` annotation, so the test plays the load balancer and sets it.
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use redline_chaos::hpa::{HpaWatchArgs, run_with};
use redline_runtime::CommonArgs;
use redline_testkit_cluster::{Cluster, wait_until};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The KubeServe seed's HPA (min 1, max 5, CPU 50 %, memory 80 %) on a Deployment whose pods
/// request 100m CPU and 64Mi and use 10m / 10Mi at rest.
const WORKLOAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: kubeserve}
spec:
  replicas: 1
  selector: {matchLabels: {app: kubeserve}}
  template:
    metadata:
      labels: {app: kubeserve}
      annotations: {kwok.x-k8s.io/usage-cpu: 10m, kwok.x-k8s.io/usage-memory: 10Mi}
    spec:
      nodeSelector: {type: kwok}
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers:
      - name: model
        image: fake-image
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: kubeserve}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: kubeserve}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}
"#;

/// The load's Job. Its pod tolerates no KWOK taint, so it stays Pending and the Job active
/// (KWOK would complete it at once); the test ends it with a 1 s deadline.
const LOAD_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: load}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: load, image: fake-image}]
"#;

const CONVERGE: Duration = Duration::from_secs(150);

async fn set_cpu(pods: &Api<Pod>, usage: &str) -> Vec<String> {
    let list = pods
        .list(&ListParams::default().labels("app=kubeserve"))
        .await
        .unwrap();
    let mut names = Vec::new();
    for p in list.items {
        let name = p.metadata.name.unwrap();
        let patch = json!({"metadata": {"annotations": {"kwok.x-k8s.io/usage-cpu": usage}}});
        pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        names.push(name);
    }
    names
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_the_real_hpa_controller_from_one_to_four_replicas() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("hpa-watch").await.unwrap();
    let client = cluster.client();
    cluster.apply_yaml(Some(ns.name()), WORKLOAD).await.unwrap();
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns.name());
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns.name());

    // At rest: the HPA has read the pod's metrics (11 % CPU) and keeps one replica.
    wait_until("the HPA reads metrics.k8s.io", CONVERGE, async || {
        let h = hpas.get("kubeserve").await.ok()?;
        let s = h.status?;
        (!s.current_metrics.unwrap_or_default().is_empty() && s.current_replicas == Some(1))
            .then_some(())
    })
    .await
    .unwrap();

    // The load starts: its Job, and 80m on the one pod (80 % of its request; the HPA wants
    // ceil(1 x 80 / 50) = 2 replicas).
    cluster.apply_yaml(Some(ns.name()), LOAD_JOB).await.unwrap();
    set_cpu(&pods, "80m").await;
    let stop = CancellationToken::new();
    let mut args = HpaWatchArgs {
        common: CommonArgs::default(),
        namespace: ns.name().to_string(),
        hpa: "kubeserve".into(),
        load_job: Some("load".into()),
        poll: Duration::from_millis(250),
        duration: Duration::from_secs(600),
        linger: Duration::from_secs(1),
    };
    args.common.testid = Some("hpa-watch-real".into());
    let watcher = tokio::spawn(run_with(args, Some(client.clone()), stop.clone()));

    // Two Ready: the load now spreads over both, 80m each, and the HPA wants 4.
    wait_until("two replicas Ready", CONVERGE, async || {
        let ready = cluster.ready_pods(ns.name(), "app=kubeserve").await.ok()?;
        (ready.len() >= 2).then_some(())
    })
    .await
    .unwrap();
    set_cpu(&pods, "80m").await;
    wait_until("four replicas Ready", CONVERGE, async || {
        let ready = cluster.ready_pods(ns.name(), "app=kubeserve").await.ok()?;
        (ready.len() >= 4).then_some(())
    })
    .await
    .unwrap();

    // The load ends: the Job fails its 1 s deadline, the watcher lingers 1 s and returns.
    jobs.patch(
        "load",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"activeDeadlineSeconds": 1}})),
    )
    .await
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(90), watcher)
        .await
        .expect("the watcher ends after the load Job finished")
        .unwrap()
        .unwrap();
    println!("{report}");

    assert!(report.load_started && report.load_finished, "{report}");
    assert_eq!(report.initial_replicas, 1);
    assert_eq!(report.max_replicas, 5);
    let scale_up = report.scale_up.expect("a scale-up was seen").as_secs_f64();
    let ready: Vec<(i32, f64)> = report
        .ready
        .iter()
        .map(|(n, d)| (*n, d.as_secs_f64()))
        .collect();
    assert_eq!(
        ready.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![2, 3, 4],
        "{report}"
    );
    assert!(ready.windows(2).all(|w| w[0].1 <= w[1].1), "{report}");
    assert!(scale_up <= ready[0].1, "{report}");
    assert_eq!((report.peak_desired, report.peak_ready), (4, 4), "{report}");

    // The clocks agree with what the API server recorded: the load Job's start, the
    // creation of the first new pod (the HPA's scale-up, through the Deployment), and the
    // Ready transition of each pod (seconds precision on the server's side; a reading
    // every 250 ms on the watcher's).
    let started = SystemTime::from(
        jobs.get("load")
            .await
            .unwrap()
            .status
            .unwrap()
            .start_time
            .unwrap()
            .0,
    );
    let mut created = Vec::new();
    let mut ready_at = Vec::new();
    for p in pods
        .list(&ListParams::default().labels("app=kubeserve"))
        .await
        .unwrap()
    {
        created.push(secs_between(
            started,
            SystemTime::from(p.metadata.creation_timestamp.unwrap().0),
        ));
        let cond = p.status.unwrap().conditions.unwrap();
        let r = cond.iter().find(|c| c.type_ == "Ready").unwrap();
        ready_at.push(secs_between(
            started,
            SystemTime::from(r.last_transition_time.clone().unwrap().0),
        ));
    }
    created.sort_by(f64::total_cmp);
    ready_at.sort_by(f64::total_cmp);
    // created[0] and ready_at[0] are the pod from before the load.
    assert!(created[0] < 0.0 && ready_at[0] < 0.0, "{created:?}");
    let tolerance = 2.5;
    assert!(
        (scale_up - created[1]).abs() <= tolerance,
        "scale-up at {scale_up} s, first new pod created at {} s",
        created[1]
    );
    for (i, (n, at)) in ready.iter().enumerate() {
        assert!(
            (at - ready_at[i + 1]).abs() <= tolerance,
            "{n} Ready at {at} s by the watcher, {} s by the API server",
            ready_at[i + 1]
        );
    }
    ns.delete().await.unwrap();
}
