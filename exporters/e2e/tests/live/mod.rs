//! The daemon runs of the liveness test (every_series_is_live.rs), one function per daemon
//! or pair, each writing into the one Prometheus under its own testid, each bounded in time;
//! [`external`] serves the series redline does not write.

pub mod external;

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use redline_demo_target::TargetArgs;
use redline_dst_client::DstClientArgs;
use redline_http_load::HttpLoadArgs;
use redline_pprof_sampler::{PprofSamplerArgs, RunOptions};
use redline_runtime::CommonArgs;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{ContainerUsage, Fault, FaultKind, KubeApiServer, KwokConfig, Verb};
use redline_testkit_prometheus::{Prometheus, free_port};
use tokio_util::sync::CancellationToken;

use crate::common::{LocustRun, PREDICT_USER, failing_task, tiered_run};

/// Two steps (the first is the drift baseline) of an arrival rate two VUs cannot keep up
/// with (target rate, dropped iterations), with every conditional series: a check, a
/// streamed chat (tokens, time to first token), free-tier tokens that run out (429s by
/// tier), 5xx answers, responses cut at the timeout and an address nobody listens on.
const HTTP_SCENARIO: &str = r#"
baseUrl: BASE
timeout: 300ms
tokens: {generate: {free: 2, premium: 2}}
scenarios:
  live:
    executor: constant-arrival-rate
    timeUnit: 1s
    preAllocatedVUs: 2
    maxVUs: 3
    steps: [{level: 20, duration: 4s}, {level: 40, duration: 4s}]
    requests:
      - {name: slow, url: "/?sleep=50", weight: 3, checks: [{name: ok, status: [200]}]}
      - {name: chat, url: /v1/chat/completions, weight: 2, openai: {model: m, maxTokens: 4, stream: true}}
      - {name: flaky, url: "/health?status=503&p=0.5", weight: 1}
      - {name: cut, url: "/?sleep=900", weight: 1}
      - {name: gone, url: "CLOSED/", weight: 1}
"#;

pub async fn http_load(prom: &Prometheus, dir: &Path) {
    let run = tiered_run(dir, HTTP_SCENARIO).await;
    let mut args = HttpLoadArgs::for_test(CommonArgs::for_test(&prom.write_url(), "live-http"));
    args.scenario = Some(run.scenario.clone());
    // k6's trend-stat gauges, the p50/p95/p99 rules' source for k6 runs.
    args.trend_stats = ["p(50)", "p(95)", "p(99)"].map(String::from).to_vec();
    tokio::time::timeout(Duration::from_secs(60), redline_http_load::execute(args))
        .await
        .expect("http-load ends after its two steps")
        .unwrap();
}

/// The KubeServe task mix, one task failing half the time (Locust's failures and errors).
pub async fn locust(prom: &Prometheus, dir: &Path) {
    let target = redline_demo_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    LocustRun {
        locustfile: &format!("{PREDICT_USER}{}", failing_task(1)),
        run: ["-u", "3", "-r", "3", "-t", "8s", "--autoquit", "2"],
        testid: "live-locust",
        gone_after: Duration::from_secs(5),
        within: Duration::from_secs(60),
    }
    .export(dir, &target.url(), &prom.write_url())
    .await;
}

const NS: &str = "live";

/// churn oscillating two services on the in-process API server (KWOK mode) while dst-client
/// watches them through the in-process Destination server; a second dst-client whose
/// controller address refuses connections writes the connection-error series, a third whose
/// convergence window is shorter than the endpoint delay the unobserved-event series, and
/// two API errors injected into churn's Deployment patches its API-error series.
pub async fn destination(prom: &Prometheus) {
    let kube = KubeApiServer::builder()
        .kwok(KwokConfig::default().endpoint_delay(Duration::from_millis(200)))
        .start()
        .await
        .unwrap();
    let dst = DestinationServer::start(&kube).await.unwrap();
    let services = "test-service-{1..2}.live.svc.cluster.local:8080";
    let client = |url: &str, testid: &str, converge: Duration| {
        let mut a = DstClientArgs::new(
            CommonArgs::for_test(&prom.write_url(), testid),
            url,
            services,
        );
        a.streams_per_service = 2;
        a.backoff_min = Duration::from_millis(50);
        a.backoff_max = Duration::from_millis(500);
        a.duration = Some(Duration::from_secs(8));
        a.converge_timeout = converge;
        a
    };
    let patient = Duration::from_secs(5);
    let watching = redline_dst_client::run_with(
        client(&dst.url(), "live-destination", patient),
        Some(kube.client().unwrap()),
        CancellationToken::new(),
    );
    let refused = format!("http://127.0.0.1:{}", free_port().unwrap());
    let failing = redline_dst_client::run_with(
        client(&refused, "live-destination-refused", patient),
        None,
        CancellationToken::new(),
    );
    let hasty = redline_dst_client::run_with(
        client(
            &dst.url(),
            "live-destination-hasty",
            Duration::from_millis(50),
        ),
        Some(kube.client().unwrap()),
        CancellationToken::new(),
    );
    kube.inject(
        Fault::new(FaultKind::InternalError, 2)
            .verb(Verb::Patch)
            .resource("deployments"),
    );
    // Its own testid: two daemons of one process under one testid would write the same
    // runtime series (samples, queue) and Prometheus would refuse the second as out of order.
    let mut c = redline_churn::ChurnArgs::with_common(CommonArgs::for_test(
        &prom.write_url(),
        "live-churn",
    ));
    c.namespace = NS.into();
    c.create_namespace = true;
    c.pattern = redline_churn::PatternName::Oscillate;
    c.services = 2;
    c.run_id = Some("live".into());
    c.min_endpoints = 1;
    c.max_endpoints = 3;
    c.min_hold = Duration::from_millis(1500);
    c.max_hold = Duration::from_millis(1500);
    c.cycles = Some(2);
    c.qps = 1000.0;
    c.burst = 1000;
    let churn = async {
        // Let the streams open before the first change.
        tokio::time::sleep(Duration::from_secs(1)).await;
        redline_churn::run_report(
            c,
            kube.client_without_retry().unwrap(),
            CancellationToken::new(),
        )
        .await
    };
    let (w, f, h, ch) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(watching, failing, hasty, churn)
    })
    .await
    .expect("dst-client and churn end by themselves");
    w.unwrap();
    h.unwrap();
    // Refused connections are retried until --duration: the run itself succeeds.
    f.unwrap();
    ch.unwrap();
}

/// pprof-sampler on Prometheus' own Go heap profile (and on an address nobody listens on,
/// for the error series), with PodMetrics from the in-process API server for the pod
/// CPU/memory series.
pub async fn pprof(prom: &Prometheus) {
    let kube = KubeApiServer::start().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(kube.client().unwrap(), "knative-serving");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "activator-0", "namespace": "knative-serving", "labels": {"app": "activator"}},
        "spec": {"containers": [{"name": "activator", "image": "example/activator:1"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    kube.set_pod_metrics(
        "knative-serving",
        "activator-0",
        vec![ContainerUsage::new("activator", "250m", "64Mi")],
    );
    let mut args = PprofSamplerArgs {
        common: CommonArgs::for_test(&prom.write_url(), "live-pprof"),
        sampler: Default::default(),
    };
    args.sampler.targets = vec![
        format!("{}/debug/pprof/heap", prom.url()),
        format!("http://127.0.0.1:{}/debug/pprof/heap", free_port().unwrap()),
    ];
    args.sampler.interval = Duration::from_millis(500);
    args.sampler.pod_resources = redline_pprof_sampler::args::PodResources::On;
    let stop = CancellationToken::new();
    let run = redline_pprof_sampler::run_with(
        args,
        RunOptions {
            kube_client: Some(kube.client().unwrap()),
            stop: Some(stop.clone()),
            ..RunOptions::default()
        },
    );
    let stopper = async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        stop.cancel();
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(run, stopper)
    })
    .await
    .expect("pprof-sampler stops when told");
    r.unwrap();
}

/// `redline tokens create` on the in-process API server: the ServiceAccount create-time
/// histogram (the MaaS plan's "SA creation time").
pub async fn tokens(prom: &Prometheus, dir: &Path) {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: redline_tokens::TokensArgs,
    }
    let kube = KubeApiServer::start().await.unwrap();
    let out = dir.join("tokens.csv");
    let argv = [
        "tokens",
        "create",
        "-n",
        "live",
        "--set",
        "live",
        "--count",
        "3",
        "-o",
        out.to_str().unwrap(),
        "--remote-write-url",
        &prom.write_url(),
        "--testid",
        "live-tokens",
    ];
    let args = <Cli as clap::Parser>::try_parse_from(argv).unwrap().args;
    tokio::time::timeout(
        Duration::from_secs(60),
        redline_tokens::run_with_client(args, kube.client().unwrap()),
    )
    .await
    .expect("tokens create ends")
    .unwrap();
}

/// `redline fit --watch` on the in-process API server: one Deployment's requests and its
/// pod's PodMetrics against a budget, the usage and requests ratios.
pub async fn fit(prom: &Prometheus) {
    let kube = KubeApiServer::start().await.unwrap();
    let client = kube.client().unwrap();
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "live-fit"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "example/web:1",
                        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}}]}},
            },
        }))
        .unwrap();
    Api::namespaced(client.clone(), "live-fit")
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-0", "namespace": "live-fit", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "example/web:1"}]},
    }))
    .unwrap();
    Api::namespaced(client.clone(), "live-fit")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    kube.set_pod_metrics(
        "live-fit",
        "web-0",
        vec![ContainerUsage::new("web", "400m", "200Mi")],
    );
    let args = redline_fit::FitArgs {
        common: CommonArgs::for_test(&prom.write_url(), "live-fit"),
        namespace: Some("live-fit".into()),
        budgets: vec!["vps=3cpu,6Gi".parse::<redline_fit::Budget>().unwrap()],
        watch: true,
        interval: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        ..redline_fit::FitArgs::defaults()
    };
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        redline_fit::watch::watch(&args, &client, CancellationToken::new()),
    )
    .await
    .expect("fit --watch ends after --duration")
    .unwrap();
    assert!(report.is_some(), "fit read the namespace at least once");
}

/// A Deployment of one pod on the in-process API server (KWOK mode makes its pods Ready),
/// opted in to chaos, with a Service.
async fn deployment(kube: &KubeApiServer, ns: &str, name: &str) {
    let client = kube.client().unwrap();
    let d: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, "redline.dev/chaos": "enabled"}},
                "spec": {"containers": [{"name": name, "image": "example/app:1",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}},
        },
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    .unwrap();
    Api::namespaced(client, ns)
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
}

/// `redline hpa-watch` on the in-process API server (KWOK mode). With no HPA controller
/// there, the test raises the target's replicas itself, which hpa-watch counts as the scale-up
/// (the real controller's reaction is timed in exporters/chaos/tests/hpa_watch.rs).
pub async fn hpa(prom: &Prometheus) {
    let kube = KubeApiServer::start_kwok().await.unwrap();
    deployment(&kube, "live-hpa", "kubeserve").await;
    let hpa: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kubeserve", "namespace": "live-hpa"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "kubeserve"},
                "minReplicas": 1, "maxReplicas": 3,
            },
        }))
        .unwrap();
    Api::namespaced(kube.client().unwrap(), "live-hpa")
        .create(&PostParams::default(), &hpa)
        .await
        .unwrap();
    let args = redline_chaos::hpa::HpaWatchArgs {
        common: CommonArgs::for_test(&prom.write_url(), "live-hpa"),
        namespace: "live-hpa".into(),
        hpa: "kubeserve".into(),
        load_job: None,
        poll: Duration::from_millis(200),
        duration: Duration::from_secs(6),
        linger: Duration::from_secs(1),
    };
    let watch =
        redline_chaos::hpa::run_with(args, Some(kube.client().unwrap()), CancellationToken::new());
    let scale = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let patch = serde_json::json!({"spec": {"replicas": 2}});
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
            kube.client().unwrap(),
            "live-hpa",
        )
        .patch(
            "kubeserve",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    };
    let (report, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(watch, scale)
    })
    .await
    .expect("hpa-watch ends after --duration");
    report.unwrap();
}

/// `redline chaos` killing the pod of an opted-in Deployment on the in-process API server,
/// with a probe on a demo target that fails half its attempts (probe failures,
/// interruption) and the recovery clocks.
pub async fn chaos(prom: &Prometheus) {
    let kube = KubeApiServer::start_kwok().await.unwrap();
    deployment(&kube, "live-chaos", "web").await;
    let target = redline_demo_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    let mut a = redline_chaos::ChaosArgs::new("live-chaos", redline_chaos::FaultKind::PodKill);
    a.common = CommonArgs::for_test(&prom.write_url(), "live-chaos");
    a.probes = vec![
        format!("web={}/health?status=503&p=0.5", target.url())
            .parse()
            .unwrap(),
    ];
    a.probe_interval = Duration::from_millis(100);
    a.recovery_poll = Duration::from_millis(100);
    a.recovery_timeout = Duration::from_secs(30);
    a.grace_period = Some(0);
    // Two faults 3 s apart: the first one's recovery series are still fresh when the rules
    // evaluate (a run that ends at its first recovery would leave them there only briefly).
    a.every = Some(Duration::from_secs(3));
    a.max_faults = 2;
    a.duration = Duration::from_secs(8);
    // Let the pod become Ready before it is killed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::time::timeout(
        Duration::from_secs(60),
        redline_chaos::run_with(
            a,
            Some(kube.client_without_retry().unwrap()),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("chaos ends after its fault recovered")
    .unwrap();
}
