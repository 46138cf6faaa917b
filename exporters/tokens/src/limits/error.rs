//! What can go wrong raising or restoring Kuadrant limits; every message names the
//! policy, its namespace and, where the fault is in a value, the field.

use super::plan::PlanError;
use super::spec::PolicyRef;

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("API discovery of kuadrant.io failed: {0}")]
    Discovery(#[source] kube::Error),
    #[error(
        "the API server serves no kuadrant.io {kind}: is Kuadrant installed \
         (its CRDs applied) on this cluster?"
    )]
    NotServed { kind: &'static str },
    #[error("{policy} in namespace {namespace}: {action}: {message}")]
    Api {
        policy: PolicyRef,
        namespace: String,
        action: &'static str,
        /// The API server's own message: for a value its schema refuses, it names the
        /// field (`spec.limits.free.rates[0].window: Invalid value: ...`).
        message: String,
    },
    #[error("{policy} in namespace {namespace}: {source}")]
    Plan {
        policy: PolicyRef,
        namespace: String,
        #[source]
        source: PlanError,
    },
    #[error("cannot start the run's command {program:?}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the run's command failed ({status}); the limits were restored")]
    CommandFailed { status: std::process::ExitStatus },
    #[error("NOT RESTORED — put these back by hand or run `redline tokens limits --restore`: {0}")]
    Restore(String),
}

/// The message of a failed API call: the server's own for a refused request, which
/// names the field for a schema violation.
pub(crate) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
        other => other.to_string(),
    }
}
