//! `redline tokens limits`: the MaaS plan's first step — raise Kuadrant's
//! RateLimitPolicy and TokenRateLimitPolicy limits before a run so the run measures the
//! platform rather than its quotas — and its last step, putting the originals back.
//! A module of `tokens` because it is the same kind of run preparation against the
//! same gateway (its tiers are the token tiers) with the same kube client and runtime.
//!
//! Files, lowest first: `spec` (the flags' values), `plan` (the patches, pure JSON),
//! `error`, `report`, `hold` (the API calls and the run around which they happen).

mod error;
mod hold;
mod plan;
mod report;
mod spec;

pub use error::LimitsError;
pub use hold::{FIELD_MANAGER, Hold, raise_hold_restore, restore_left_raised};
pub use plan::{Change, ORIGINAL_ANNOTATION, PlanError};
pub use report::{Ended, LimitsReport, PolicyChange};
pub use spec::{PolicyKind, PolicyRef, Raise, parse_policy, parse_raise};
