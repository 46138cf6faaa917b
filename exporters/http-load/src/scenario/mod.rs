//! The scenario file: k6's executor names and options (camelCase, as in a k6 `options`
//! block), plus redline's `steps`, request mix, tokens, checks and the `openai` request kind.
//!
//! Parsing is strict (`deny_unknown_fields`), and every error names the file, the field path
//! and the line, so a typo in a 200-line scenario is found at once.
//!
//! Bottom up: [`duration`] (k6's duration syntax); the types serde reads, [`request_spec`]
//! (a request, its checks and tags) under [`model`] (the file, its scenarios, executors and
//! steps); [`validate`] (what serde cannot check); [`mod@locate`] (a field path's line in the
//! YAML text); [`load`] (read, parse, validate, name the line).

pub mod duration;
pub mod load;
pub mod locate;
pub mod model;
pub mod request_spec;
pub mod validate;

pub use duration::parse_duration;
pub use load::ScenarioError;
pub use locate::{locate, locate_nearest};
pub use model::{Executor, Mix, Scenario, ScenarioFile, Stage, Step, Think, Tokens, Var};
pub use request_spec::{Body, Check, OpenAiApi, OpenAiSpec, RequestSpec, StatusRange};
pub use validate::{MAX_TAG_VALUE, MAX_TAGS, validate_tags};
