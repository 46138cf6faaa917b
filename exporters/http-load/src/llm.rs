//! What an OpenAI-compatible response says about the model: token counts (the `usage`
//! object), and for a streamed response (server-sent events) when the first and last content
//! chunks came and the gaps between them (time to first token, inter-token latency).

use std::time::{Duration, Instant};

use crate::scenario::OpenAiApi;

/// What one OpenAI response told us.
#[derive(Debug, Default, PartialEq)]
pub struct Llm {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub first_token: Option<Instant>,
    pub last_token: Option<Instant>,
    pub content_chunks: u64,
    pub gaps: Vec<Duration>,
}

impl Llm {
    pub fn from_body(body: &[u8], _api: OpenAiApi) -> Self {
        let mut l = Llm::default();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            l.take_usage(&v);
        }
        l
    }

    fn take_usage(&mut self, v: &serde_json::Value) {
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = u.get("prompt_tokens").and_then(|x| x.as_u64()).unwrap_or(0);
            self.completion_tokens = u
                .get("completion_tokens")
                .and_then(|x| x.as_u64())
                .unwrap_or(0);
        }
    }

    /// Output tokens per second after the first token.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let (first, last) = (self.first_token?, self.last_token?);
        let n = if self.completion_tokens > 0 {
            self.completion_tokens
        } else {
            self.content_chunks
        };
        let secs = last.saturating_duration_since(first).as_secs_f64();
        (n > 1 && secs > 0.0).then(|| (n - 1) as f64 / secs)
    }
}

/// Incremental server-sent-events reader for OpenAI streams.
#[derive(Default)]
pub struct Sse {
    pending: Vec<u8>,
    llm: Llm,
}

impl Sse {
    pub fn feed(&mut self, data: &[u8], at: Instant) {
        self.pending.extend_from_slice(data);
        while let Some(pos) = find_event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..pos.0 + pos.1).collect();
            self.event(&event[..pos.0], at);
        }
    }

    fn event(&mut self, event: &[u8], at: Instant) {
        for line in event.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(data) = line.strip_prefix(b"data:") else {
                continue;
            };
            let data = data.strip_prefix(b" ").unwrap_or(data);
            if data == b"[DONE]" {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
                continue;
            };
            self.llm.take_usage(&v);
            let content = v
                .pointer("/choices/0/delta/content")
                .or_else(|| v.pointer("/choices/0/text"));
            if content
                .and_then(|c| c.as_str())
                .is_some_and(|s| !s.is_empty())
            {
                if let Some(prev) = self.llm.last_token {
                    self.llm.gaps.push(at.saturating_duration_since(prev));
                }
                self.llm.first_token.get_or_insert(at);
                self.llm.last_token = Some(at);
                self.llm.content_chunks += 1;
            }
        }
    }

    pub fn finish(self) -> Llm {
        self.llm
    }
}

/// End of the first event: (index of the blank line, its length).
fn find_event_end(b: &[u8]) -> Option<(usize, usize)> {
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(c)) => Some(if a.0 < c.0 { a } else { c }),
        (a, c) => a.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_counts_tokens_gaps_and_usage_across_split_frames() {
        let mut s = Sse::default();
        let t0 = Instant::now();
        let chunk = |w: &str| {
            format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{w}\"}}}}]}}\n\n")
        };
        let all = format!(
            "{}{}{}data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":4,\"completion_tokens\":3,\"total_tokens\":7}}}}\n\ndata: [DONE]\n\n",
            chunk("a"),
            chunk(" b"),
            chunk(" c")
        );
        let bytes = all.as_bytes();
        // Feed in awkward pieces, 10 ms apart.
        for (i, piece) in bytes.chunks(17).enumerate() {
            s.feed(piece, t0 + Duration::from_millis(10 * i as u64));
        }
        let l = s.finish();
        assert_eq!(l.content_chunks, 3);
        assert_eq!((l.prompt_tokens, l.completion_tokens), (4, 3));
        assert_eq!(l.gaps.len(), 2);
        assert!(l.tokens_per_second().unwrap() > 0.0);
    }
}
