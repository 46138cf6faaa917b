//! `?watch=true` on a collection: a streamed body of watch events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::query::truthy;
use super::response::{Body, error_response, full};
use super::route::Target;
use crate::Shared;
use crate::error::ApiError;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::watch::{self, WatchParams};

pub(super) fn respond(
    shared: Arc<Shared>,
    t: &Target,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let (labels, fields) =
        match LabelSelector::from_query(q).and_then(|l| Ok((l, FieldSelector::from_query(q)?))) {
            Ok(both) => both,
            Err(e) => return error_response(&e),
        };
    if t.res.virtual_only {
        return error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            "watch is not supported on metrics",
        ));
    }
    let p = WatchParams {
        namespace: t.namespace.clone(),
        labels,
        fields,
        resource_version: q.get("resourceVersion").cloned(),
        bookmarks: truthy(q, "allowWatchBookmarks"),
        send_initial_events: truthy(q, "sendInitialEvents"),
        timeout: q
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
    };
    let rx = watch::start(shared, t.res, p);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|_| Response::new(full("")))
}
