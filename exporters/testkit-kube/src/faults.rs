//! Fault injection: the next N matching requests fail with a chosen status, and an
//! optional latency is added to every request.

use std::sync::Mutex;
use std::time::Duration;

use crate::error::ApiError;

/// Request verbs, named as the API server's audit log and RBAC name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// What a matching request gets instead of being served.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// 429 TooManyRequests with `Retry-After: secs`.
    TooManyRequests { retry_after_secs: u32 },
    /// 500 InternalError.
    InternalError,
    /// 409 Conflict, as an optimistic-concurrency failure.
    Conflict,
    /// Any status code, with the given reason.
    Status { code: u16, reason: String },
}

/// One armed fault. `verb`/`resource` None match everything; `resource` is the plural
/// ("deployments"), optionally with a subresource ("deployments/scale").
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u32,
    pub verb: Option<Verb>,
    pub resource: Option<String>,
}

impl Fault {
    pub fn new(kind: FaultKind, times: u32) -> Self {
        Self {
            kind,
            remaining: times,
            verb: None,
            resource: None,
        }
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    fn matches(&self, verb: Verb, resource: &str) -> bool {
        self.remaining > 0
            && self.verb.is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
    }

    fn to_error(&self, resource: &str) -> ApiError {
        match &self.kind {
            FaultKind::TooManyRequests { retry_after_secs } => ApiError::too_many_requests(
                "injected fault: the server has received too many requests and has asked us to try again later",
                Some(*retry_after_secs),
            ),
            FaultKind::InternalError => ApiError::internal("injected fault: internal error"),
            FaultKind::Conflict => ApiError::conflict(resource, "injected"),
            FaultKind::Status { code, reason } => {
                ApiError::new(*code, reason, format!("injected fault: {reason}"))
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
    latency: Mutex<Duration>,
    injected: std::sync::atomic::AtomicU64,
}

impl Faults {
    pub fn push(&self, fault: Fault) {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }

    pub fn clear(&self) {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = Duration::ZERO;
    }

    pub fn set_latency(&self, d: Duration) {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    pub fn latency(&self) -> Duration {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many requests have been failed on purpose so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Consumes one firing of the first matching fault, if any.
    pub fn check(&self, verb: Verb, resource: &str) -> Option<ApiError> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let f = armed.iter_mut().find(|f| f.matches(verb, resource))?;
        f.remaining -= 1;
        let err = f.to_error(resource);
        armed.retain(|f| f.remaining > 0);
        self.injected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(err)
    }
}
