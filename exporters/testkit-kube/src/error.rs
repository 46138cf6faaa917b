//! Errors: `ApiError` is what the HTTP layer turns into a `metav1.Status` body,
//! `Error` is what the Rust API of this crate returns.

use serde_json::{Value, json};

/// A failure the API server reports to its client as a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// Seconds the client should wait, sent both as `Retry-After` and in `details`.
    pub retry_after: Option<u32>,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_string(),
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    pub fn not_found(resource: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
            .with_details(json!({"name": name, "kind": resource_kind_part(resource)}))
    }

    pub fn already_exists(resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "kind": resource_kind_part(resource)}))
    }

    /// The optimistic-concurrency failure, worded as the real API server words it
    /// because some clients match on the message.
    pub fn conflict(resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .with_details(json!({"name": name, "kind": resource_kind_part(resource)}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: Option<u32>) -> Self {
        let mut e = Self::new(429, "TooManyRequests", message);
        e.retry_after = retry_after;
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut details = self.details.clone().unwrap_or_else(|| json!({}));
        if let (Some(secs), Some(map)) = (self.retry_after, details.as_object_mut()) {
            map.insert("retryAfterSeconds".into(), json!(secs));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if details.as_object().is_some_and(|m| !m.is_empty()) {
            status["details"] = details;
        }
        status
    }
}

/// "deployments.apps" -> "deployments": `details.kind` carries the plural in real Status objects.
fn resource_kind_part(resource: &str) -> &str {
    resource.split('.').next().unwrap_or(resource)
}

/// Errors from this crate's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding the test API server: {0}")]
    Bind(#[source] std::io::Error),
    #[error("building the kube client: {0}")]
    Client(#[source] kube::Error),
    #[error("resource type {0} is not served by the test API server")]
    UnknownResource(String),
    #[error("object does not (de)serialize: {0}")]
    Serde(#[from] serde_json::Error),
    #[error(transparent)]
    Api(#[from] ApiError),
}
