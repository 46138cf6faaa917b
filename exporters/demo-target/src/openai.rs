//! OpenAI-compatible `/v1/completions` and `/v1/chat/completions`.
//!
//! Usage counts are deterministic so load tests can check them: prompt tokens are the
//! whitespace-separated words of the prompt (or of every message's content), completion
//! tokens are exactly `max_tokens` (or the server default). Token `i` (from 0) is produced at
//! `ttft + i * token_delay` after the request was read, streamed or not, so time to first
//! token and inter-token latency are known lower bounds.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, StreamBody};
use hyper::body::Frame;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::{self, Body};
use crate::query;

pub(crate) const TOKEN_DELAY_HEADER: &str = "x-redline-token-delay-ms";
pub(crate) const TTFT_HEADER: &str = "x-redline-ttft-ms";
/// Above this a single answer would be megabytes of filler; no real model allows it either.
const MAX_TOKENS_LIMIT: u64 = 1 << 17;

const WORDS: [&str; 16] = [
    "Load", "tests", "measure", "what", "a", "platform", "does", "under", "pressure", "and", "how",
    "it", "recovers", "when", "faults", "end.",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Completions,
    Chat,
}

pub(crate) struct OpenAi {
    pub model: String,
    pub default_max_tokens: u32,
    pub token_delay: Duration,
    pub ttft_delay: Duration,
    ids: AtomicU64,
}

/// What one request will produce, decided before any waiting so limits can charge for it.
#[derive(Debug)]
pub(crate) struct Plan {
    kind: Kind,
    model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    stream: bool,
    finish_reason: &'static str,
    ttft: Duration,
    token_delay: Duration,
}

impl Plan {
    pub(crate) fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    #[serde(default)]
    prompt: Value,
    messages: Option<Vec<Message>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Value,
}

/// An OpenAI-shaped error body, which clients of the real API already know how to print.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    body::json(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
    )
}

pub(crate) fn invalid(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// Words in prompt-like JSON: strings are split on whitespace, token-id arrays count one per
/// id, and chat content parts count the words of their `text`.
fn count_words(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.split_whitespace().count() as u64,
        Value::Number(_) => 1,
        Value::Array(items) => items.iter().map(count_words).sum(),
        Value::Object(part) => part.get("text").map_or(0, count_words),
        Value::Null | Value::Bool(_) => 0,
    }
}

fn delay_override(
    name: &str,
    header: &str,
    headers: &HeaderMap,
    q: Option<&str>,
) -> Result<Option<Duration>, String> {
    let raw = match headers.get(header) {
        Some(v) => Some(v.to_str().unwrap_or("")),
        None => query::get(q, name),
    };
    raw.map(|s| {
        s.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("{header} / {name} must be whole milliseconds"))
    })
    .transpose()
}

impl OpenAi {
    pub(crate) fn new(
        model: String,
        default_max_tokens: u32,
        token_delay: Duration,
        ttft_delay: Duration,
    ) -> Self {
        // Ids only need to be unique per run; a random start keeps runs apart in logs.
        Self {
            model,
            default_max_tokens,
            token_delay,
            ttft_delay,
            ids: AtomicU64::new(rand::random::<u64>() >> 16),
        }
    }

    pub(crate) fn plan(
        &self,
        kind: Kind,
        body: &[u8],
        headers: &HeaderMap,
        q: Option<&str>,
    ) -> Result<Plan, String> {
        let req: Request = serde_json::from_slice(body)
            .map_err(|e| format!("request body is not a valid completion request: {e}"))?;
        let prompt_tokens = match kind {
            Kind::Completions => count_words(&req.prompt),
            Kind::Chat => {
                let messages = req
                    .messages
                    .as_ref()
                    .filter(|m| !m.is_empty())
                    .ok_or_else(|| "'messages' must be a non-empty array".to_owned())?;
                messages.iter().map(|m| count_words(&m.content)).sum()
            }
        };
        let requested = req.max_completion_tokens.or(req.max_tokens);
        let completion_tokens = requested.unwrap_or(u64::from(self.default_max_tokens));
        if !(1..=MAX_TOKENS_LIMIT).contains(&completion_tokens) {
            return Err(format!("max_tokens must be in 1..={MAX_TOKENS_LIMIT}"));
        }
        Ok(Plan {
            kind,
            model: req
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| self.model.clone()),
            prompt_tokens,
            completion_tokens,
            stream: req.stream.unwrap_or(false),
            // A request that set a limit is cut by it; one that did not ends "naturally".
            finish_reason: if requested.is_some() {
                "length"
            } else {
                "stop"
            },
            ttft: delay_override("ttft_ms", TTFT_HEADER, headers, q)?.unwrap_or(self.ttft_delay),
            token_delay: delay_override("token_delay_ms", TOKEN_DELAY_HEADER, headers, q)?
                .unwrap_or(self.token_delay),
        })
    }

    pub(crate) async fn respond(&self, plan: Plan, start: Instant) -> Response<Body> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let id = match plan.kind {
            Kind::Completions => format!("cmpl-{id:012x}"),
            Kind::Chat => format!("chatcmpl-{id:012x}"),
        };
        if plan.stream {
            return stream(plan, id, created, start);
        }
        let last = token_deadline(&plan, start, plan.completion_tokens - 1);
        tokio::time::sleep_until(last.into()).await;
        let text: String = (0..plan.completion_tokens).map(word).collect();
        let usage = usage(&plan);
        let value = match plan.kind {
            Kind::Completions => json!({
                "id": id, "object": "text_completion", "created": created, "model": plan.model,
                "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": plan.finish_reason}],
                "usage": usage,
            }),
            Kind::Chat => json!({
                "id": id, "object": "chat.completion", "created": created, "model": plan.model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": null,
                    "finish_reason": plan.finish_reason,
                }],
                "usage": usage,
            }),
        };
        body::json(StatusCode::OK, &value)
    }
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.total_tokens(),
    })
}

fn word(i: u64) -> String {
    let w = WORDS[(i % WORDS.len() as u64) as usize];
    if i == 0 {
        w.to_owned()
    } else {
        format!(" {w}")
    }
}

fn token_deadline(plan: &Plan, start: Instant, i: u64) -> Instant {
    // Deadlines from one origin, not sleeps chained one after another, so pacing never drifts
    // and a token is never early.
    let i = u32::try_from(i).unwrap_or(u32::MAX);
    start + plan.ttft + plan.token_delay.saturating_mul(i)
}

/// The parts of every chunk that do not change, JSON-encoded once per stream.
struct Chunks {
    plan: Plan,
    start: Instant,
    /// `data: {"id":..,"object":..,"created":..,"model":..,"choices":[{` — ends before the choice fields.
    head: String,
    usage_chunk: Bytes,
}

impl Chunks {
    fn token(&self, i: u64) -> Bytes {
        let last = i + 1 == self.plan.completion_tokens;
        let finish = if last {
            format!("\"{}\"", self.plan.finish_reason)
        } else {
            "null".to_owned()
        };
        let word = word(i);
        let s = match self.plan.kind {
            Kind::Completions => format!(
                "{}\"text\":\"{word}\",\"index\":0,\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
                self.head
            ),
            Kind::Chat => {
                let role = if i == 0 {
                    "\"role\":\"assistant\","
                } else {
                    ""
                };
                format!(
                    "{}\"index\":0,\"delta\":{{{role}\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
                    self.head
                )
            }
        };
        Bytes::from(s)
    }
}

/// Server-Sent Events: one chunk per token, then a usage chunk with no choices (what OpenAI
/// sends with `stream_options.include_usage`; sent always, since load tests need the counts),
/// then `data: [DONE]`.
fn stream(plan: Plan, id: String, created: u64, start: Instant) -> Response<Body> {
    let object = match plan.kind {
        Kind::Completions => "text_completion",
        Kind::Chat => "chat.completion.chunk",
    };
    let prefix =
        json!({"id": id, "object": object, "created": created, "model": plan.model}).to_string();
    // Reopen the object after its last field to append `choices`.
    let open = &prefix[..prefix.len() - 1];
    let head = format!("data: {open},\"choices\":[{{");
    let usage_chunk = Bytes::from(format!(
        "data: {open},\"choices\":[],\"usage\":{}}}\n\n",
        usage(&plan)
    ));
    let chunks = Arc::new(Chunks {
        plan,
        start,
        head,
        usage_chunk,
    });
    let n = chunks.plan.completion_tokens;
    let events = futures::stream::unfold(0u64, move |i| {
        let chunks = Arc::clone(&chunks);
        async move {
            let bytes = if i < n {
                tokio::time::sleep_until(token_deadline(&chunks.plan, chunks.start, i).into())
                    .await;
                chunks.token(i)
            } else if i == n {
                chunks.usage_chunk.clone()
            } else if i == n + 1 {
                Bytes::from_static(b"data: [DONE]\n\n")
            } else {
                return None;
            };
            Some((Ok::<_, Infallible>(Frame::data(bytes)), i + 1))
        }
    });
    let mut resp = Response::new(Either::Right(StreamBody::new(events).boxed_unsync()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /v1/models`.
pub(crate) fn models(model: &str) -> Response<Body> {
    body::json(
        StatusCode::OK,
        &json!({"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "redline"}]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> OpenAi {
        OpenAi::new("m".into(), 16, Duration::ZERO, Duration::ZERO)
    }

    #[test]
    fn counts_prompt_words_deterministically() {
        let a = api();
        let h = HeaderMap::new();
        let p = a
            .plan(
                Kind::Completions,
                br#"{"prompt":"one two  three\nfour","max_tokens":5}"#,
                &h,
                None,
            )
            .unwrap();
        assert_eq!(
            (p.prompt_tokens, p.completion_tokens, p.total_tokens()),
            (4, 5, 9)
        );
        assert_eq!(p.finish_reason, "length");
        let p = a
            .plan(
                Kind::Chat,
                br#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi there you"}]}]}"#,
                &h,
                None,
            )
            .unwrap();
        assert_eq!((p.prompt_tokens, p.completion_tokens), (5, 16));
        assert_eq!(p.finish_reason, "stop");
        let p = a
            .plan(
                Kind::Completions,
                br#"{"prompt":[1,2,3],"max_completion_tokens":2}"#,
                &h,
                None,
            )
            .unwrap();
        assert_eq!((p.prompt_tokens, p.completion_tokens), (3, 2));
    }

    #[test]
    fn rejects_bad_requests() {
        let a = api();
        let h = HeaderMap::new();
        for (kind, body) in [
            (Kind::Chat, &br#"{"model":"m"}"#[..]),
            (Kind::Chat, br#"{"messages":[]}"#),
            (Kind::Completions, br#"{"prompt":"x","max_tokens":0}"#),
            (Kind::Completions, b"not json"),
        ] {
            assert!(a.plan(kind, body, &h, None).is_err());
        }
    }

    #[test]
    fn delays_come_from_header_then_query_then_server() {
        let a = OpenAi::new(
            "m".into(),
            4,
            Duration::from_millis(7),
            Duration::from_millis(9),
        );
        let body = br#"{"prompt":"x"}"#;
        let mut h = HeaderMap::new();
        let p = a.plan(Kind::Completions, body, &h, None).unwrap();
        assert_eq!(
            (p.token_delay, p.ttft),
            (Duration::from_millis(7), Duration::from_millis(9))
        );
        let p = a
            .plan(
                Kind::Completions,
                body,
                &h,
                Some("token_delay_ms=3&ttft_ms=0"),
            )
            .unwrap();
        assert_eq!(
            (p.token_delay, p.ttft),
            (Duration::from_millis(3), Duration::ZERO)
        );
        h.insert(TOKEN_DELAY_HEADER, HeaderValue::from_static("1"));
        let p = a
            .plan(Kind::Completions, body, &h, Some("token_delay_ms=3"))
            .unwrap();
        assert_eq!(p.token_delay, Duration::from_millis(1));
        h.insert(TOKEN_DELAY_HEADER, HeaderValue::from_static("soon"));
        assert!(a.plan(Kind::Completions, body, &h, None).is_err());
    }

    #[test]
    fn stream_chunks_are_valid_json() {
        let a = api();
        let h = HeaderMap::new();
        for kind in [Kind::Completions, Kind::Chat] {
            let plan = a.plan(kind, br#"{"model":"we\"ird","prompt":"a b","messages":[{"content":"a b"}],"max_tokens":3}"#, &h, None).unwrap();
            let prefix =
                json!({"id": "x", "object": "o", "created": 1, "model": plan.model}).to_string();
            let open = &prefix[..prefix.len() - 1];
            let chunks = Chunks {
                head: format!("data: {open},\"choices\":[{{"),
                usage_chunk: Bytes::new(),
                plan,
                start: Instant::now(),
            };
            for i in 0..3 {
                let raw = chunks.token(i);
                let text = std::str::from_utf8(&raw).unwrap();
                let v: Value =
                    serde_json::from_str(text.strip_prefix("data: ").unwrap().trim_end()).unwrap();
                assert_eq!(v["model"], "we\"ird");
                let finish = &v["choices"][0]["finish_reason"];
                assert_eq!(finish.is_null(), i < 2, "{text}");
            }
        }
    }
}
