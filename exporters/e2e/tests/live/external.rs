//! The external series, served the way their sources serve them (a text exposition that
//! Prometheus scrapes every second), with the labels the catalogue says they carry: the
//! recording rules that join them with redline's series (node CPU, pod restarts, Authorino
//! errors, Destination memory, pod limits) must then produce their output in the liveness
//! test like any other. The values are plausible, not judged: only presence is asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scrape's exposition; `n` counts scrapes so the counters grow.
fn exposition(n: u64) -> String {
    let n = n as f64;
    let pod = r#"namespace="knative-serving",pod="activator-0",container="activator""#;
    // Linkerd's destination controller and the API server, as their own /metrics serve them
    // (histogram buckets untyped: only the catalogued `_bucket` series are served).
    let dst = r#"namespace="linkerd",pod="linkerd-destination-0",container="destination""#;
    let get = r#"grpc_service="io.linkerd.proxy.destination.Destination",grpc_method="Get",grpc_type="server_stream""#;
    let api =
        r#"group="discovery.k8s.io",version="v1",resource="endpointslices",component="apiserver""#;
    format!(
        "# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} {idle}
node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {user}
# TYPE kube_pod_container_status_restarts_total counter
kube_pod_container_status_restarts_total{{namespace=\"live\",pod=\"web-0\",container=\"web\"}} {restarts}
# TYPE auth_server_response_status counter
auth_server_response_status{{status=\"OK\"}} {ok}
auth_server_response_status{{status=\"INTERNAL\"}} {n}
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{{namespace=\"linkerd\",pod=\"linkerd-destination-0\",container=\"destination\"}} {memory}
container_memory_working_set_bytes{{{pod}}} 67108864
# TYPE destination_endpoint_views_active gauge
destination_endpoint_views_active{{{dst}}} 4
# TYPE endpoints_subscribers gauge
endpoints_subscribers{{{dst},exported_namespace=\"live\",service=\"test-service-1\",port=\"8080\"}} 4
# TYPE grpc_server_started_total counter
grpc_server_started_total{{{dst},{get}}} {started}
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{{{dst},{get},grpc_code=\"OK\"}} {handled}
grpc_server_handling_seconds_bucket{{{dst},{get},le=\"1\"}} {handled}
grpc_server_handling_seconds_bucket{{{dst},{get},le=\"+Inf\"}} {handled}
destination_stream_send_duration_seconds_bucket{{{dst},le=\"0.01\"}} {n}
destination_stream_send_duration_seconds_bucket{{{dst},le=\"+Inf\"}} {n}
# TYPE destination_stream_send_timeouts_total counter
destination_stream_send_timeouts_total{{{dst}}} 0
# TYPE endpoint_updates_queue_overflow counter
endpoint_updates_queue_overflow{{{dst},service=\"test-service-1\"}} 0
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{{{dst}}} {cpu}
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes{{{dst}}} 20000000
# TYPE apiserver_longrunning_requests gauge
apiserver_longrunning_requests{{{api},verb=\"WATCH\",scope=\"cluster\"}} 3
# TYPE apiserver_request_total counter
apiserver_request_total{{{api},verb=\"PATCH\",scope=\"resource\",code=\"200\"}} {n}
# TYPE kube_pod_container_resource_limits gauge
kube_pod_container_resource_limits{{{pod},resource=\"cpu\",unit=\"core\"}} 1
kube_pod_container_resource_limits{{{pod},resource=\"memory\",unit=\"byte\"}} 1073741824
# TYPE kube_horizontalpodautoscaler_status_current_replicas gauge
kube_horizontalpodautoscaler_status_current_replicas{{namespace=\"live-hpa\",horizontalpodautoscaler=\"kubeserve\"}} 2
# TYPE kube_horizontalpodautoscaler_status_desired_replicas gauge
kube_horizontalpodautoscaler_status_desired_replicas{{namespace=\"live-hpa\",horizontalpodautoscaler=\"kubeserve\"}} 2
# TYPE kube_horizontalpodautoscaler_spec_max_replicas gauge
kube_horizontalpodautoscaler_spec_max_replicas{{namespace=\"live-hpa\",horizontalpodautoscaler=\"kubeserve\"}} 3
",
        idle = 0.1 * n,
        user = 0.9 * n,
        restarts = (n / 5.0).floor(),
        ok = 10.0 * n,
        memory = 50_000_000.0 + 1000.0 * n,
        started = 4.0 + n,
        handled = n,
        cpu = 0.01 * n,
    )
}

/// Serves [`exposition`] on a loopback port until the runtime ends; returns the scrape
/// config item for `Options::scrape_configs`.
pub async fn serve() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scrapes = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        // Bounded: Prometheus scrapes once a second and the test runs well under a minute.
        for _ in 0..600 {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let n = scrapes.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let body = exposition(n);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!(
        "- job_name: external-sources\n  scrape_interval: 1s\n  static_configs:\n  - targets: ['127.0.0.1:{port}']"
    )
}

/// Each series the feed serves as (name, label keys): the test checks that every one is a
/// catalogued external series with catalogued labels, so the feed cannot stand in for a
/// series redline itself must write.
pub fn served() -> Vec<(String, Vec<String>)> {
    exposition(0)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, rest) = l.split_once('{').expect("every served series has labels");
            let labels = rest.split_once('}').expect("closed label set").0;
            let keys = labels
                .split(',')
                .map(|kv| kv.split_once('=').expect("key=value").0.to_string())
                .collect();
            (name.to_string(), keys)
        })
        .collect()
}
