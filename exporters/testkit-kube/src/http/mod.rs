//! The HTTP/1.1 front: URL routing onto resources, verbs onto store operations, and
//! Kubernetes-shaped responses (objects, lists, `Status` errors, watch streams).

mod body;
mod dispatch;
mod evict;
mod list;
mod query;
mod response;
mod route;
mod tokens;
mod watch_stream;

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::Shared;
use crate::error::ApiError;
use query::{parse_query, truthy};
use response::{error_response, json_response};
use route::{Route, route, verb_of};

pub use response::Body;

/// Entry point for one request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let q = parse_query(parts.uri.query());
    let t = match route(&path) {
        Route::Static(v) => return Ok(json_response(200, &v)),
        Route::NotFound => {
            return Ok(error_response(&ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )));
        }
        Route::Resource(t) => t,
    };
    let watch = truthy(&q, "watch");
    let verb = verb_of(&parts.method, &t, watch);
    let resource_label = match &t.sub {
        Some(s) => format!("{}/{s}", t.res.plural),
        None => t.res.plural.to_string(),
    };
    shared.count_request(verb, &resource_label);
    if let Some(e) = shared.faults.check(verb, &resource_label) {
        return Ok(error_response(&e));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(error_response(&ApiError::bad_request(e.to_string()))),
    };
    if q.get("dryRun").is_some_and(|v| !v.is_empty()) {
        return Ok(error_response(&ApiError::bad_request(
            "dryRun is not supported by the redline test API server",
        )));
    }
    let result = if watch && parts.method == Method::GET && t.name.is_none() {
        return Ok(watch_stream::respond(shared, &t, &q));
    } else {
        dispatch::dispatch(&shared, &parts.method, &t, &q, &content_type, &body)
    };
    Ok(match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    })
}
