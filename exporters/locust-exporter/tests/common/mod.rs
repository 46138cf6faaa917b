//! An imitation Locust web UI, for what a real one cannot show on demand (garbage, 500s, a
//! report that changes at an exact time).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Serves every request on `listener` with what `answer` gives for it, until the listener
/// fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    answer: impl Fn() -> (StatusCode, String) + Send + Sync + 'static,
) {
    let answer = Arc::new(answer);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req| {
                let (status, body) = answer();
                let mut r = Response::new(Full::new(Bytes::from(body)));
                *r.status_mut() = status;
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
