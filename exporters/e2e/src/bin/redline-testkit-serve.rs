//! `redline-testkit-serve`: the in-process test servers as one process, for tests that
//! are not written in Rust. The chart tests (charts/tests) run the rendered daemons,
//! as separate `redline` processes, against it.
//!
//! Starts the Kubernetes API server of `redline-testkit-kube` in KWOK mode and the
//! Linkerd Destination server of `redline-testkit-destination` on it, both on
//! 127.0.0.1, writes a kubeconfig for the API server and prints one JSON line:
//!
//! ```text
//! {"kubeconfig":"/tmp/x/kubeconfig","api":"http://127.0.0.1:41234","destination":"127.0.0.1:41235"}
//! ```
//!
//! Then reads one JSON command per line on stdin and answers each with one JSON line:
//!
//! - `{"cmd":"status"}`: what the Destination server saw (`active_streams`,
//!   `streams_opened`, `updates_sent`, `get_paths` and `context_tokens` with counts)
//!   and the requests the fake pods' profiling endpoints got (`pprof_requests`).
//! - `{"cmd":"pods", "namespace", "labels", "container", "port", "cpu", "memory",
//!   "path", "profile", "pods": [{"name", "serve"}]}`: creates the pods (KWOK makes them
//!   Running with a pod IP), gives each PodMetrics usage (`cpu`, `memory`, as
//!   metrics-server would) and, for `serve` = "profile" or "error", listens on
//!   `<pod IP>:<port>` as the pod's Go profiling endpoint: `path` serves the bytes of
//!   the file `profile`, `/debug/pprof/goroutine` a total of 42 goroutines; "error"
//!   answers 503 to both. Answers `{"pods":[{"name","ip"}]}`.
//!
//! Any failure answers `{"error": "..."}`. Pod IPs come from `--pod-cidr`, a loopback
//! network by default (127.1.0.0/16), so whatever a daemon sends to a pod stays on this
//! machine.
//!
//! Ends when stdin closes, on SIGTERM or SIGINT, or after `--max-lifetime` (default
//! 120 s) whatever happens, so a test that dies cannot leave it running.
//!
//! Usage: `redline-testkit-serve --kubeconfig PATH [--max-lifetime SECS] [--nodes N]
//! [--pod-cidr CIDR]`

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use redline_testkit_destination::DestinationServer;
use redline_testkit_kube::{ContainerUsage, KubeApiServer, KwokConfig};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

const USAGE: &str = "usage: redline-testkit-serve --kubeconfig PATH [--max-lifetime SECS] [--nodes N] [--pod-cidr CIDR]";
/// How long a `pods` command waits for KWOK to make its pods Running.
const POD_READY_TIMEOUT: Duration = Duration::from_secs(10);
const GOROUTINES: &str = "goroutine profile: total 42\n";

struct Args {
    kubeconfig: PathBuf,
    max_lifetime: Duration,
    nodes: usize,
    pod_cidr: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        kubeconfig: PathBuf::new(),
        max_lifetime: Duration::from_secs(120),
        nodes: 10,
        pod_cidr: "127.1.0.0/16".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--kubeconfig" => args.kubeconfig = value()?.into(),
            "--max-lifetime" => {
                let secs: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--max-lifetime: {e}"))?;
                args.max_lifetime = Duration::from_secs(secs);
            }
            "--nodes" => args.nodes = value()?.parse().map_err(|e| format!("--nodes: {e}"))?,
            "--pod-cidr" => args.pod_cidr = value()?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if args.kubeconfig.as_os_str().is_empty() {
        return Err(format!("--kubeconfig is required\n{USAGE}"));
    }
    Ok(args)
}

fn kubeconfig(api: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testkit\n  cluster:\n    server: {api}\n\
         users:\n- name: testkit\n  user: {{}}\ncontexts:\n- name: testkit\n  context: {{cluster: testkit, user: testkit, namespace: default}}\n\
         current-context: testkit\n"
    )
}

/// Requests a fake profiling endpoint got, by "<pod> <path>".
type Seen = Arc<Mutex<BTreeMap<String, u64>>>;

struct State {
    kube: KubeApiServer,
    dst: DestinationServer,
    seen: Seen,
    fakes: JoinSet<()>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redline-testkit-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let kube = KubeApiServer::builder()
        .kwok(
            KwokConfig::default()
                .nodes(args.nodes)
                .pod_cidr(&args.pod_cidr),
        )
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let dst = DestinationServer::start(&kube)
        .await
        .map_err(|e| e.to_string())?;
    let tmp = args.kubeconfig.with_extension("tmp");
    std::fs::write(&tmp, kubeconfig(&kube.url()))
        .and_then(|()| std::fs::rename(&tmp, &args.kubeconfig))
        .map_err(|e| format!("{}: {e}", args.kubeconfig.display()))?;
    println!(
        "{}",
        json!({
            "kubeconfig": args.kubeconfig,
            "api": kube.url(),
            "destination": dst.addr().to_string(),
        })
    );

    let mut state = State {
        kube,
        dst,
        seen: Seen::default(),
        fakes: JoinSet::new(),
    };
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let lifetime = tokio::time::sleep(args.max_lifetime);
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            _ = &mut lifetime => {
                eprintln!("redline-testkit-serve: --max-lifetime {:?} reached", args.max_lifetime);
                break;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            line = lines.next_line() => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    let reply = match serde_json::from_str::<Value>(&line) {
                        Ok(cmd) => command(&mut state, &cmd).await
                            .unwrap_or_else(|e| json!({"error": e})),
                        Err(e) => json!({"error": format!("not JSON: {e}")}),
                    };
                    println!("{reply}");
                }
                // stdin closed (or unreadable): the test is done with us.
                Ok(None) | Err(_) => break,
            },
        }
    }
    state.fakes.abort_all();
    state.dst.shutdown();
    state.kube.shutdown();
    Ok(())
}

async fn command(state: &mut State, cmd: &Value) -> Result<Value, String> {
    match cmd.get("cmd").and_then(Value::as_str) {
        Some("status") => Ok(status(state)),
        Some("pods") => pods(state, cmd).await,
        other => Err(format!("unknown command {other:?}")),
    }
}

fn counts<'a>(items: impl IntoIterator<Item = &'a String>) -> BTreeMap<&'a str, u64> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.as_str()).or_default() += 1;
    }
    out
}

fn status(state: &State) -> Value {
    let paths = state.dst.requested_paths();
    let tokens = state.dst.context_tokens();
    let seen = state.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    json!({
        "active_streams": state.dst.active_streams(),
        "streams_opened": state.dst.streams_opened(),
        "updates_sent": state.dst.updates_sent(),
        "watched_services": state.dst.watched_services(),
        "get_paths": counts(&paths),
        "context_tokens": counts(&tokens),
        "active_watches": state.kube.active_watches(),
        "pprof_requests": seen,
    })
}

fn field<'a>(cmd: &'a Value, name: &str) -> Result<&'a str, String> {
    cmd.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("pods: {name:?} (a string) is required"))
}

async fn pods(state: &mut State, cmd: &Value) -> Result<Value, String> {
    let ns = field(cmd, "namespace")?;
    let container = field(cmd, "container")?;
    let (cpu, memory) = (field(cmd, "cpu")?, field(cmd, "memory")?);
    let labels = cmd.get("labels").cloned().unwrap_or_else(|| json!({}));
    let port = cmd
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("pods: \"port\" (a port number) is required")?;
    let wanted = cmd
        .get("pods")
        .and_then(Value::as_array)
        .ok_or("pods: \"pods\" (a list) is required")?;
    let res = redline_testkit_kube::resource_type::<Pod>().ok_or("pods are not served")?;
    let mut names = Vec::new();
    for p in wanted {
        let name = field(p, "name")?;
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{
                "name": container, "image": "fake",
                "ports": [{"name": "profiling", "containerPort": port}],
            }]},
        });
        state
            .kube
            .store()
            .upsert(res, pod)
            .map_err(|e| format!("creating pod {ns}/{name}: {e}"))?;
        names.push(name.to_string());
    }
    let ip_of = |k: &KubeApiServer, name: &str| {
        k.get::<Pod>(ns, name)
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .and_then(|p| p.status.and_then(|s| s.pod_ip))
    };
    let ready = state
        .kube
        .wait_for(POD_READY_TIMEOUT, |k| {
            names.iter().all(|n| ip_of(k, n).is_some())
        })
        .await;
    if !ready {
        return Err(format!(
            "pods {names:?} not Running with an IP after {POD_READY_TIMEOUT:?}"
        ));
    }
    let mut out = Vec::new();
    for p in wanted {
        let name = field(p, "name")?;
        let ip = ip_of(&state.kube, name).ok_or("pod IP lost")?;
        state
            .kube
            .set_pod_metrics(ns, name, vec![ContainerUsage::new(container, cpu, memory)]);
        let serve = p.get("serve").and_then(Value::as_str).unwrap_or("none");
        let body = match serve {
            "none" => None,
            "error" => Some(None),
            "profile" => {
                let file = field(cmd, "profile")?;
                let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
                Some(Some(Bytes::from(bytes)))
            }
            other => return Err(format!("pods: serve {other:?} is none, profile or error")),
        };
        if let Some(body) = body {
            let addr: SocketAddr = format!("{ip}:{port}")
                .parse()
                .map_err(|e| format!("{ip}:{port}: {e}"))?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("listening on {addr} for pod {name}: {e}"))?;
            let fake = FakePod {
                pod: name.to_string(),
                heap_path: field(cmd, "path")
                    .unwrap_or("/debug/pprof/heap")
                    .to_string(),
                heap: body,
                seen: state.seen.clone(),
            };
            state.fakes.spawn(fake.serve(listener));
        }
        out.push(json!({"name": name, "ip": ip}));
    }
    Ok(json!({"pods": out}))
}

/// A pod's Go profiling endpoint (net/http/pprof), as far as the sampler reads it.
#[derive(Clone)]
struct FakePod {
    pod: String,
    heap_path: String,
    /// The heap profile's bytes; None answers 503.
    heap: Option<Bytes>,
    seen: Seen,
}

impl FakePod {
    async fn serve(self, listener: tokio::net::TcpListener) {
        let mut conns = JoinSet::new();
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(_) => {
                    // Out of descriptors, say: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Reap finished connections so the set stays small.
            while conns.try_join_next().is_some() {}
            let me = self.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let me = me.clone();
                    async move { Ok::<_, Infallible>(me.answer(&req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        *self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(format!("{} {path}", self.pod))
            .or_default() += 1;
        let (status, body) = match (&self.heap, path.as_str()) {
            (None, _) => (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(b"down")),
            (Some(heap), p) if p == self.heap_path => (StatusCode::OK, heap.clone()),
            (Some(_), "/debug/pprof/goroutine") => {
                (StatusCode::OK, Bytes::from_static(GOROUTINES.as_bytes()))
            }
            _ => (
                StatusCode::NOT_FOUND,
                Bytes::from_static(b"404 page not found"),
            ),
        };
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        r
    }
}
