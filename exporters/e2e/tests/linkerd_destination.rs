//! dst-client against Linkerd's real destination controller (built from the pinned linkerd2
//! module, run out of cluster by hack/linkerd/up.sh) on the real local control plane of
//! hack/cluster/up.sh, while `redline churn` oscillates KWOK-backed services:
//! churn -> Deployments -> ReplicaSets -> KWOK pods with IPs -> EndpointSlices -> Linkerd's
//! destination -> dst-client streams. Asserts that every stream ends with exactly the
//! endpoints the API's EndpointSlices hold, that every scale event reached every stream with
//! a latency, and the negative path: a stopped (SIGSTOP) controller leaves the streams behind
//! the API, and they catch up once it runs again.
//!
//! The run's Prometheus (Debian's 2.42, every rule in alerts/) takes dst-client's series by
//! remote-write and scrapes the controller's own /metrics and the API server's, as the
//! scenarios do: the controller's open Get streams, endpoint views, CPU and memory and the API
//! server's EndpointSlice watches and writes land beside the client's, the destination rules
//! attribute them to the run, and `redline verdict` judges it.
//!
//! Needs REDLINE_TEST_KUBECONFIG (hack/cluster/up.sh) and REDLINE_TEST_LINKERD_DST /
//! REDLINE_TEST_LINKERD_PID / REDLINE_TEST_LINKERD_METRICS (hack/linkerd/up.sh; hack/test.sh
//! sets them all). Without them it says so loudly and returns; under CI=true it fails.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use redline_churn::ChurnArgs;
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::{CommonArgs, Runtime};
use redline_testkit_cluster::Cluster;
use redline_testkit_prometheus::Prometheus;
use redline_verdict::{Verdict, VerdictArgs};
use tokio_util::sync::CancellationToken;

use common::{alerting_prometheus, all_fanned_out, eventually, oscillate_once};

const SERVICES: u32 = 2;
const SLOTS: u32 = 4;

/// The controller started by hack/linkerd/up.sh.
struct Linkerd {
    dst: String,
    pid: u32,
    /// host:port of its admin server (/metrics).
    metrics: String,
}

fn linkerd() -> Option<Linkerd> {
    let var = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
    let dst = var("REDLINE_TEST_LINKERD_DST");
    let pid = var("REDLINE_TEST_LINKERD_PID").and_then(|p| p.parse().ok());
    let metrics = var("REDLINE_TEST_LINKERD_METRICS").map(|u| {
        u.trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_string()
    });
    match (dst, pid, metrics) {
        (Some(dst), Some(pid), Some(metrics)) => Some(Linkerd { dst, pid, metrics }),
        _ => {
            let msg = "REDLINE_TEST_LINKERD_DST / REDLINE_TEST_LINKERD_PID / \
                       REDLINE_TEST_LINKERD_METRICS are not set: no Linkerd destination \
                       controller, so this test returns early. Start one with \
                       `hack/linkerd/up.sh DIR` and export them from DIR/linkerd/env \
                       (LINKERD_DST_ADDR, LINKERD_DST_PID, LINKERD_METRICS_URL), or run \
                       `hack/test.sh`";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("\n!!! {msg}\n");
            None
        }
    }
}

/// SIGCONTs the controller when dropped, so a failing assertion never leaves it stopped.
struct Stopped(u32);

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

impl Stopped {
    fn new(pid: u32) -> Self {
        signal(pid, "-STOP");
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

/// A Prometheus with every rule in alerts/ that scrapes the controller and the API server the
/// way hack/linkerd/scenarios-local.sh does: the controller labelled like its in-cluster pod
/// (the rules select `container="destination"`), its RSS copied to the cAdvisor working-set
/// name, and only the API server's watch and request counts, read with the admin client
/// certificate hack/cluster/up.sh keeps beside the kubeconfig.
async fn prometheus(cluster: &Cluster, l: &Linkerd) -> Prometheus {
    let pki = cluster
        .kubeconfig_path()
        .parent()
        .expect("the kubeconfig is in the cluster's directory")
        .join("pki");
    assert!(
        pki.join("admin.key").exists(),
        "{} holds no admin.crt/admin.key: the API server is scraped with hack/cluster/up.sh's admin certificate",
        pki.display()
    );
    let api = cluster
        .api_url()
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let target = format!(
        "static_configs: [{{targets: [\"{}\"], labels: {{namespace: linkerd, container: destination, pod: linkerd-destination-local}}}}]",
        l.metrics
    );
    alerting_prometheus()
        .evaluation_interval(Duration::from_secs(1))
        .scrape_config(format!("- job_name: linkerd-destination\n  {target}"))
        .scrape_config(format!(
            "- job_name: linkerd-destination-rss\n  {target}\n  metric_relabel_configs:\n    \
             - {{source_labels: [__name__], regex: process_resident_memory_bytes, action: keep}}\n    \
             - {{source_labels: [__name__], target_label: __name__, replacement: container_memory_working_set_bytes}}"
        ))
        .scrape_config(format!(
            "- job_name: kube-apiserver\n  scheme: https\n  tls_config: {{ca_file: \"{p}/ca.crt\", cert_file: \"{p}/admin.crt\", key_file: \"{p}/admin.key\"}}\n  \
             static_configs: [{{targets: [\"{api}\"]}}]\n  metric_relabel_configs:\n    \
             - {{source_labels: [__name__], regex: \"apiserver_longrunning_requests|apiserver_request_total\", action: keep}}",
            p = pki.display()
        ))
        .start()
        .await
        .unwrap()
}

/// The first value of an instant query, polled until `ok` holds (bounded: 60 s).
async fn until_value(prom: &Prometheus, q: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let v = prom.scalar(q).await.unwrap();
        if let Some(v) = v.filter(|v| ok(*v)) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{q}: last {v:?}; Prometheus log: {}",
            prom.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_client_tracks_linkerds_destination_controller_through_churn() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let Some(l) = linkerd() else {
        return;
    };
    let (dst, pid) = (l.dst.clone(), l.pid);
    let ns = cluster.namespace("linkerd-dst").await.unwrap();
    let kube = cluster.client();
    let prom = prometheus(&cluster, &l).await;
    let testid = format!("linkerd-e2e-{}", ns.name());
    // dst-client's series reach Prometheus as the daemon's do: its runtime pushes them.
    let mut rt = Runtime::new(
        &CommonArgs::for_test(&prom.write_url(), &testid),
        "dst-client",
    )
    .unwrap();
    let metrics = Metrics::register(rt.registry());
    let running = rt.start().await.unwrap();

    let mut a = DstClientArgs::new(
        CommonArgs::default(),
        &dst,
        &format!(
            "test-service-{{1..{SERVICES}}}.{}.svc.cluster.local:8080",
            ns.name()
        ),
    );
    a.streams_per_service = SLOTS;
    a.verify_endpoints = true;
    a.backoff_min = Duration::from_millis(100);
    a.backoff_max = Duration::from_secs(1);
    a.converge_timeout = Duration::from_secs(60);
    a.pod_namespace = ns.name().to_string();
    let client = DstClient::start(&a, metrics, Some(kube.clone()))
        .await
        .unwrap();
    let m = client.metrics().clone();

    // Create at 2, up to 6, back to 2; holds long enough for KWOK to make the pods Ready.
    let mut c = ChurnArgs::with_common(CommonArgs::default());
    c.namespace = ns.name().to_string();
    c.services = SERVICES;
    oscillate_once(&mut c, Duration::from_secs(4));
    c.run_id = Some("linkerd-e2e".into());
    let report = redline_churn::run_report(c, kube.clone(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.steps_dispatched, u64::from(SERVICES) * 3);

    eventually(
        "every stream open and every scale event observed by every stream",
        Duration::from_secs(90),
        || {
            m.streams_active.get() == i64::from(SERVICES * SLOTS)
                && all_fanned_out(&client, SERVICES, 3)
        },
    )
    .await;

    // Exactly the API's endpoints, in every stream: 2 ready pods per service.
    let r = client
        .verify_endpoints(&kube, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(r.streams, (SERVICES * SLOTS) as usize);
    assert_eq!(r.api_endpoints, (SERVICES * 2) as usize);
    assert!(r.mismatches.is_empty(), "{:?}", r.mismatches);
    for i in 1..=SERVICES {
        let s = Metrics::service(&format!("test-service-{i}"));
        let upd = m.update_latency.get_or_create(&s).clone();
        // 3 events (create, up, down) x every stream, each with a measured latency.
        assert_eq!(upd.count(), 3 * u64::from(SLOTS), "test-service-{i}");
        assert!(
            upd.sum() > 0.0,
            "test-service-{i}: latencies are real times"
        );
        let ep = m.endpoint_latency.get_or_create(&s).clone();
        // Per stream: 2 added at creation, 4 added, 4 removed.
        assert_eq!(
            ep.count(),
            u64::from(SLOTS) * (2 + 4 + 4),
            "test-service-{i}"
        );
        assert_eq!(m.events_unobserved.get_or_create(&s).get(), 0);
    }
    assert_eq!(m.streams_reset.get(), 0);

    // The controller's side, in the same Prometheus, attributed to this run by the rules.
    running.push_now().await;
    let streams = f64::from(SERVICES * SLOTS);
    let sel = format!("testid=\"{testid}\"");
    // Each query in turn must reach a value its check accepts.
    let checks: [(String, &dyn Fn(f64) -> bool); 10] = [
        // Its open Get streams (started - handled) include every stream dst-client holds
        // (other clients of the shared controller may add theirs).
        (
            format!("redline:dst_controller_streams_open{{{sel}}}"),
            &|v| v >= streams,
        ),
        // Linkerd 2.14's endpoint views: exactly one subscriber per stream on this
        // namespace's services (the controller's `namespace` label arrives as
        // exported_namespace).
        (
            format!(
                "sum(endpoints_subscribers{{container=\"destination\", exported_namespace=\"{}\"}})",
                ns.name()
            ),
            &|v| v == streams,
        ),
        (
            format!("redline:dst_controller_views{{{sel}}}"),
            &|v| v >= streams,
        ),
        // No update-queue overflow (2.14's send timeout) at this size.
        (
            format!("redline:dst_controller_send_timeouts:ratio{{{sel}}}"),
            &|v| v == 0.0,
        ),
        // CPU and memory of the controller process, and the API server's view: the
        // controller's EndpointSlice watch open, and the slice writes churn caused.
        (
            format!("sum(redline:dst_cpu_cores{{{sel}}})"),
            &|v| v > 0.0,
        ),
        (
            format!("sum(redline:dst_memory_bytes{{{sel}}})"),
            &|v| v > 1e6,
        ),
        (
            format!("sum(redline:dst_heap_inuse_bytes{{{sel}}})"),
            &|v| v > 1e6,
        ),
        (
            format!("redline:apiserver_watches{{resource=\"endpointslices\", {sel}}}"),
            &|v| v >= 1.0,
        ),
        (
            "sum(increase(apiserver_request_total{resource=\"endpointslices\", verb=~\"POST|PUT|PATCH|DELETE\"}[5m]))".to_string(),
            &|v| v > 0.0,
        ),
        (
            format!("sum(redline:apiserver_endpoint_writes:rate1m{{{sel}}}) or vector(-1)"),
            &|v| v >= 0.0,
        ),
    ];
    for (query, ok) in checks {
        until_value(&prom, &query, ok).await;
    }

    // The verdict over the rules: judged (pass or fail: this machine's latency is its own
    // business), and none of the correctness or controller-side judges fired.
    let report = redline_verdict::evaluate(&VerdictArgs::new(prom.url(), &testid))
        .await
        .unwrap();
    assert!(
        matches!(report.verdict, Verdict::Pass | Verdict::Fail),
        "{:?}: {}",
        report.verdict,
        report.reason
    );
    let fired: Vec<&str> = report.alerts.iter().map(|a| a.alertname.as_str()).collect();
    for judge in [
        "RedlineDstEventsUnobserved",
        "RedlineDstStreamResets",
        "RedlineDstControllerViewsOff",
        "RedlineDstControllerSendTimeouts",
    ] {
        assert!(!fired.contains(&judge), "{judge} fired: {fired:?}");
    }
    eprintln!("verdict {:?}; alerts fired: {fired:?}", report.verdict);

    // Negative path: with the controller stopped, a scale-down reaches the API but no stream.
    // (A scale-down, not up: resumed, Linkerd 2.14 may handle the EndpointSlice update before
    // its pod informer holds new pods and drop those addresses for good, a finding recorded in
    // hack/linkerd/README.md; removals need no pod lookup, so this path tests the stop alone.)
    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), ns.name());
    let stopped = Stopped::new(pid);
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let stamp = serde_json::json!({"seq": 100, "replicas": 1, "unixMs": ms, "run": "linkerd-e2e"});
    let annotations = BTreeMap::from([("redline.dev/churn-event", stamp.to_string())]);
    deployments
        .patch(
            "test-service-1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": annotations},
                "spec": {"replicas": 1},
            })),
        )
        .await
        .unwrap();
    // Long enough for KWOK and the endpointslice controller (the API moves on).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let behind = client
        .verify_endpoints(&kube, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(behind.api_endpoints, 1 + 2, "the API holds the scale-down");
    assert_eq!(
        behind.mismatches.len(),
        SLOTS as usize,
        "every stream of test-service-1 is behind: {:?}",
        behind.mismatches
    );
    assert!(
        behind
            .mismatches
            .iter()
            .all(|x| x.service == "test-service-1" && x.missing.is_empty() && x.extra.len() == 1),
        "{:?}",
        behind.mismatches
    );
    assert!(
        client
            .pending_events()
            .iter()
            .any(|(s, n)| s == "test-service-1" && *n == 1),
        "the event waits for the streams: {:?}",
        client.pending_events()
    );
    drop(stopped);
    let caught_up = client
        .verify_endpoints(&kube, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        caught_up.mismatches.is_empty(),
        "{:?}",
        caught_up.mismatches
    );
    let upd = m
        .update_latency
        .get_or_create(&Metrics::service("test-service-1"))
        .clone();
    eventually(
        "the stopped event's latency in every stream",
        Duration::from_secs(10),
        || upd.count() == 4 * u64::from(SLOTS),
    )
    .await;
    // The event waited at least the 6 s the controller was stopped.
    assert!(
        upd.count() - upd.count_le(5.0) >= u64::from(SLOTS),
        "latency above the stop"
    );
    client.shutdown().await;
    running.finish().await.unwrap();
    ns.delete().await.unwrap();
}
