//! The request side of a scenario file: what to send (URL template, method, headers, body
//! or an `openai` request), what to check in the answer, and the `tags` its series carry.
//! As in [`super::model`], a missing `Option` field is `None`; other defaults are spelled out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

/// `200` or `[200, 299]`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StatusRange {
    One(u16),
    Range([u16; 2]),
}

impl StatusRange {
    pub fn contains(self, s: u16) -> bool {
        match self {
            StatusRange::One(x) => x == s,
            StatusRange::Range([a, b]) => (a..=b).contains(&s),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestSpec {
    /// The `name` label; defaults to the URL template (never the expanded URL).
    pub name: Option<String>,
    pub method: Option<String>,
    /// URL template; `/path` is joined to `baseUrl`.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<Body>,
    pub openai: Option<OpenAiSpec>,
    pub weight: Option<u32>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// k6's request `tags`: extra labels on this request's series (over the scenario's).
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// Tag values are YAML scalars (`version: 2` is the label value "2").
pub(super) fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::Text(s) => s,
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// Request body: inline text (a template), JSON, a file, or a random pick among files.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Json(serde_json::Value),
    File(PathBuf),
    Files(Vec<PathBuf>),
}

// A YAML map with one key (`{json: {...}}`) rather than a YAML tag, which is how
// serde_norway would read an externally tagged enum.
impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            text: Option<String>,
            json: Option<serde_json::Value>,
            file: Option<PathBuf>,
            files: Option<Vec<PathBuf>>,
        }
        let r = Raw::deserialize(d)?;
        let n = usize::from(r.text.is_some())
            + usize::from(r.json.is_some())
            + usize::from(r.file.is_some())
            + usize::from(r.files.is_some());
        if n != 1 {
            return Err(serde::de::Error::custom(
                "a body is exactly one of text, json, file or files",
            ));
        }
        Ok(if let Some(t) = r.text {
            Body::Text(t)
        } else if let Some(j) = r.json {
            Body::Json(j)
        } else if let Some(f) = r.file {
            Body::File(f)
        } else {
            Body::Files(r.files.unwrap_or_default())
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OpenAiApi {
    Chat,
    Completions,
}

/// An OpenAI-compatible completion request; `url` should point at the gateway's
/// `/v1/chat/completions` or `/v1/completions`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenAiSpec {
    #[serde(default = "chat")]
    pub api: OpenAiApi,
    pub model: String,
    #[serde(default = "default_prompt")]
    pub prompt: String,
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stream: bool,
}

fn chat() -> OpenAiApi {
    OpenAiApi::Chat
}

fn default_prompt() -> String {
    "Say something about load testing.".to_owned()
}

/// A check; a failed check is counted and never stops the run.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    pub name: Option<String>,
    pub status: Option<Vec<StatusRange>>,
    pub header: Option<String>,
    pub body_contains: Option<String>,
    /// JSON pointer (RFC 6901) that must exist in the response body ...
    pub json: Option<String>,
    /// ... and, when given, equal this value.
    pub equals: Option<serde_json::Value>,
}
