//! What the remote-write tests share: the native histogram fixture ([`native`]), and a
//! receiver that answers from a script of statuses, records what it got, and decodes it: for
//! the status codes a real Prometheus cannot be made to return on cue.

#![allow(dead_code)] // each test file uses its own subset

pub mod native;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use redline_remote_write::prompb::WriteRequest;

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'static str,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: "",
        }
    }
}

pub struct Received {
    pub at: Instant,
    pub headers: hyper::HeaderMap,
    pub request: WriteRequest,
}

#[derive(Clone, Default)]
pub struct FaultServer {
    script: Arc<Mutex<VecDeque<Reply>>>,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl FaultServer {
    /// Serves on a free loopback port; after the script runs out it answers 200.
    pub async fn start(script: Vec<Reply>) -> (Self, SocketAddr) {
        let me = Self {
            script: Arc::new(Mutex::new(script.into())),
            received: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = me.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let srv = srv.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| srv.clone().handle(req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (me, addr)
    }

    async fn handle(self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
        let headers = req.headers().clone();
        let body = req.into_body().collect().await?.to_bytes();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("snappy block body");
        let request = WriteRequest::decode(raw.as_slice()).expect("protobuf WriteRequest");
        self.received.lock().unwrap().push(Received {
            at: Instant::now(),
            headers,
            request,
        });
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::status(200));
        let mut resp = Response::builder().status(reply.status);
        for (k, v) in reply.headers {
            resp = resp.header(k, v);
        }
        Ok(resp
            .body(Full::new(Bytes::from_static(reply.body.as_bytes())))
            .unwrap())
    }

    pub fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}
