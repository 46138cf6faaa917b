//! Shared by the integration tests and the benchmark: fake pprof endpoints on loopback
//! (hyper, in-process) and reading series back out of a registry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::registry::Registry;

pub const FIXTURE_A: &[u8] = include_bytes!("../data/prometheus-heap-a.pb.gz");
pub const FIXTURE_B: &[u8] = include_bytes!("../data/prometheus-heap-b.pb.gz");

/// What a fake endpoint does with a heap request.
#[derive(Clone)]
pub enum Behaviour {
    /// Serves these bytes (a real saved profile) and a goroutine total of 42.
    Profile(Bytes),
    /// 200 with a body that is not a profile.
    Garbage,
    /// Answers after this long.
    Slow(Duration),
    /// 500.
    Status500,
}

/// Requests a fake endpoint saw.
#[derive(Default, Debug)]
pub struct Seen {
    pub heap: AtomicU64,
    pub heap_gc: AtomicU64,
    pub goroutine: AtomicU64,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(behaviour: Behaviour) -> Fake {
    serve_on("127.0.0.1:0".parse().unwrap(), behaviour).await
}

/// On a given loopback address: pods on 127.0.0.1 and 127.0.0.2 can share a port.
pub async fn serve_on(addr: SocketAddr, behaviour: Behaviour) -> Fake {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (b, s) = (behaviour.clone(), s.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (b, s) = (b.clone(), s.clone());
                    async move { Ok::<_, Infallible>(answer(req, b, &s).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Fake { addr, seen, task }
}

async fn answer(req: Request<Incoming>, b: Behaviour, seen: &Seen) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    if path.ends_with("/goroutine") {
        seen.goroutine.fetch_add(1, Ordering::Relaxed);
        return match b {
            Behaviour::Profile(_) => Response::new(Full::new(Bytes::from_static(
                b"goroutine profile: total 42\n1 @ 0x1 0x2\n",
            ))),
            _ => Response::new(Full::new(Bytes::from_static(b"nope"))),
        };
    }
    seen.heap.fetch_add(1, Ordering::Relaxed);
    if query.split('&').any(|kv| kv == "gc=1") {
        seen.heap_gc.fetch_add(1, Ordering::Relaxed);
    }
    match b {
        Behaviour::Profile(bytes) => Response::new(Full::new(bytes)),
        Behaviour::Garbage => Response::new(Full::new(Bytes::from_static(
            b"<html><body>404 page not found, but with a 200</body></html>",
        ))),
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            Response::new(Full::new(Bytes::from_static(FIXTURE_A)))
        }
        Behaviour::Status500 => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"boom")));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

/// Every series in the registry's text exposition: `name{labels}` → value.
pub fn series(registry: &Registry) -> BTreeMap<String, f64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Sum of the series of one family whose label text contains all of `needles`.
pub fn value(s: &BTreeMap<String, f64>, name: &str, needles: &[&str]) -> Option<f64> {
    let hits: Vec<f64> = s
        .iter()
        .filter(|(k, _)| k.split('{').next() == Some(name) && needles.iter().all(|n| k.contains(n)))
        .map(|(_, v)| *v)
        .collect();
    (!hits.is_empty()).then(|| hits.iter().sum())
}
