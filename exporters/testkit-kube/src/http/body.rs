//! Request bodies in (JSON, or YAML for apply patches) and what a handler gives back.

use serde_json::Value;

use crate::error::ApiError;

/// An empty body is `null`; JSON first, then YAML where the content type says so.
pub(super) fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        // Apply patches may be YAML.
        Err(e) if content_type.contains("yaml") => serde_norway::from_slice(body)
            .map_err(|y| ApiError::bad_request(format!("invalid body: {e}; as YAML: {y}"))),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON body: {e}"))),
    }
}

/// A handler's answer: the status code and the object, or a Kubernetes `Status` error.
pub(super) type Outcome = Result<(u16, Value), ApiError>;
