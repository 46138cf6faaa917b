//! An in-process Linkerd Destination gRPC server for tests.
//!
//! `Get` streams are served from the EndpointSlices of a `redline-testkit-kube` server,
//! the way Linkerd's destination controller serves them: the first message is the
//! whole current set (`add`), or `no_endpoints{exists}` when there is none; then `add`
//! and `remove` deltas; removing the last endpoint sends `no_endpoints{exists: true}`.
//!
//! Source of truth: the test API server's object store, read in-process through its
//! change broadcast rather than through a kube client watch. That keeps one
//! subscription for the whole server (not one HTTP watch per service), costs no
//! serialisation, and makes the delay between an EndpointSlice commit and the update
//! leaving this server only the one a test injects. The HTTP/watch path is covered by
//! the kube crate's own tests.
//!
//! Fan-out: one `tokio::sync::watch` channel per (namespace, service, port) holds an
//! immutable snapshot shared by every stream on it; each stream diffs its last sent
//! snapshot against the newest one. A stream is a lazily polled `futures` stream (no
//! task of its own), so 10,000 streams cost 10,000 small state machines.

mod resolve;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redline_testkit_kube::KubeApiServer;
use tokio_util::sync::CancellationToken;

pub use resolve::{Endpoint, Snapshot, Target, parse_path};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding the destination server: {0}")]
    Bind(#[source] std::io::Error),
}

/// A running Destination server. Dropping it stops the server and ends every stream.
pub struct DestinationServer {
    addr: SocketAddr,
    shared: Arc<service::Shared>,
    shutdown: CancellationToken,
}

impl DestinationServer {
    /// Serves the EndpointSlices of `kube` on 127.0.0.1:0.
    pub async fn start(kube: &KubeApiServer) -> Result<Self, Error> {
        Self::start_with_store(kube.store().clone()).await
    }

    /// Serves from a raw test store (for tests that fill it directly).
    pub async fn start_with_store(store: Arc<redline_testkit_kube::Store>) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let shutdown = CancellationToken::new();
        let shared = service::Shared::new(store, shutdown.child_token());
        tokio::spawn(service::dispatch(shared.clone(), shutdown.child_token()));
        let svc = linkerd2_proxy_api::destination::destination_server::DestinationServer::new(
            service::Svc(shared.clone()),
        );
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let signal = shutdown.clone().cancelled_owned();
        tokio::spawn(async move {
            let r = tonic::transport::Server::builder()
                // Linkerd serves many streams per proxy connection; do not cap them at
                // hyper's default of 200.
                .max_concurrent_streams(Some(1_000_000))
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, signal)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "destination server ended");
            }
        });
        Ok(Self {
            addr,
            shared,
            shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for `tonic::transport::Endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Get streams currently open.
    pub fn active_streams(&self) -> usize {
        self.shared.active_streams()
    }

    /// Get streams opened since start.
    pub fn streams_opened(&self) -> u64 {
        self.shared.streams_opened()
    }

    /// Update messages sent on all streams since start.
    pub fn updates_sent(&self) -> u64 {
        self.shared.updates_sent()
    }

    /// Per-service watches currently shared by streams.
    pub fn watched_services(&self) -> usize {
        self.shared.watched_services()
    }

    /// Context tokens of every Get received, in arrival order.
    pub fn context_tokens(&self) -> Vec<String> {
        self.shared.context_tokens()
    }

    /// Paths of every Get received, in arrival order.
    pub fn requested_paths(&self) -> Vec<String> {
        self.shared.requested_paths()
    }

    /// Ends every open stream with `UNAVAILABLE`, so clients can be tested reconnecting.
    pub fn kill_streams(&self) {
        self.shared.kill_streams();
    }

    /// Adds a delay before each update a stream sends (zero by default).
    pub fn set_update_delay(&self, delay: Duration) {
        self.shared.set_update_delay(delay);
    }

    /// Waits until `cond` holds, re-checking every 5 ms; false on timeout.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn shutdown(&self) {
        self.shared.kill_streams();
        self.shutdown.cancel();
    }
}

impl Drop for DestinationServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
