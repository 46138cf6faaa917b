use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{args, args_with, json_of, serve};

#[tokio::test]
async fn completion_usage_counts_are_real() {
    let a = args_with(|a| a.token_delay = Duration::ZERO);
    serve(a, async |t, c| {
        let prompt = "one two three four five";
        let body = json!({"model": "granite", "prompt": prompt, "max_tokens": 7});
        let v = json_of(c.post(format!("{}/v1/completions", t.url())).json(&body)).await;
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["model"], "granite");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
        );
        assert_eq!(
            v["choices"][0]["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            7
        );
        assert_eq!(v["choices"][0]["finish_reason"], "length");
    })
    .await
}

#[tokio::test]
async fn chat_usage_counts_and_defaults() {
    let a = args_with(|a| {
        a.token_delay = Duration::ZERO;
        a.default_max_tokens = 9;
    });
    serve(a, async |t, c| {
        let base = t.url();
        let resp = c
            .post(format!("{base}/v1/chat/completions"))
            .json(&json!({"messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hello to the load test"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "redline-demo");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18})
        );

        let bad = c.post(format!("{base}/v1/chat/completions")).body("{");
        let bad = bad.send().await.unwrap();
        assert_eq!(bad.status(), 400);
        let v: Value = bad.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let wrong_method = c.get(format!("{base}/v1/completions")).send().await;
        let wrong_method = wrong_method.unwrap();
        assert_eq!(wrong_method.status(), 405);
        let models = json_of(c.get(format!("{base}/v1/models"))).await;
        assert_eq!(models["data"][0]["id"], "redline-demo");
    })
    .await
}

#[tokio::test]
async fn non_streaming_answer_waits_for_every_token() {
    let a = args_with(|a| {
        a.token_delay = Duration::from_millis(20);
        a.ttft_delay = Duration::from_millis(50);
    });
    serve(a, async |t, c| {
        let begin = Instant::now();
        let resp = c
            .post(format!("{}/v1/completions", t.url()))
            .json(&json!({"prompt": "x", "max_tokens": 6}))
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap();
        // ttft + 5 gaps of 20 ms
        assert!(
            begin.elapsed() >= Duration::from_millis(150),
            "{:?}",
            begin.elapsed()
        );
    })
    .await
}

struct Event {
    at: Duration,
    data: String,
}

/// Reads an SSE body, timestamping each event as it arrives.
async fn read_events(mut resp: reqwest::Response, begin: Instant) -> Vec<Event> {
    let mut buf = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let raw: String = buf.drain(..end + 2).collect();
            let data = raw
                .trim_end()
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {raw:?}"));
            events.push(Event {
                at: begin.elapsed(),
                data: data.to_owned(),
            });
        }
    }
    assert!(buf.is_empty(), "trailing bytes {buf:?}");
    events
}

#[tokio::test]
async fn chat_stream_shape_and_pacing() {
    serve(args(), async |t, c| {
        let begin = Instant::now();
        let resp = c
            .post(format!("{}/v1/chat/completions?ttft_ms=100", t.url()))
            .header("x-redline-token-delay-ms", "30")
            .json(&json!({"model": "m", "stream": true, "max_tokens": 5,
                          "messages": [{"role": "user", "content": "count to five"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let events = read_events(resp, begin).await;
        assert_eq!(events.len(), 5 + 2, "5 tokens, usage, DONE");

        let chunks: Vec<Value> = events[..6]
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        for (i, c) in chunks[..5].iter().enumerate() {
            assert_eq!(c["object"], "chat.completion.chunk");
            let delta = &c["choices"][0]["delta"];
            assert!(!delta["content"].as_str().unwrap().trim().is_empty());
            assert_eq!(delta.get("role").is_some(), i == 0);
            let finish = &c["choices"][0]["finish_reason"];
            assert_eq!(finish.as_str(), (i == 4).then_some("length"));
        }
        assert_eq!(chunks[5]["choices"], json!([]));
        assert_eq!(
            chunks[5]["usage"],
            json!({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})
        );
        assert_eq!(events[6].data, "[DONE]");

        // Lower bounds only: the target must never be early; being late is the machine's doing.
        assert!(
            events[0].at >= Duration::from_millis(100),
            "first token at {:?}",
            events[0].at
        );
        assert!(
            events[4].at >= Duration::from_millis(100 + 4 * 30),
            "last token at {:?}",
            events[4].at
        );
        for pair in events[..5].windows(2) {
            // Deadlines are absolute, so one late token can shorten the next gap, never the sum.
            assert!(pair[1].at >= pair[0].at);
        }
        assert!(events[4].at < Duration::from_secs(5));
    })
    .await
}

#[tokio::test]
async fn completions_stream_carries_text_and_usage() {
    serve(args_with(|a| a.token_delay = Duration::from_millis(5)), async |t, c| {
        let begin = Instant::now();
        let resp = c
            .post(format!("{}/v1/completions", t.url()))
            .json(&json!({"prompt": "a b c", "stream": true, "max_tokens": 20, "stream_options": {"include_usage": true}}))
            .send()
            .await
            .unwrap();
        let events = read_events(resp, begin).await;
        assert_eq!(events.len(), 22);
        let text: String = events[..20]
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["choices"][0]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(text.split_whitespace().count(), 20);
        let usage: Value = serde_json::from_str(&events[20].data).unwrap();
        assert_eq!(usage["usage"]["total_tokens"], 23);
        assert!(events[19].at >= Duration::from_millis(19 * 5));
    })
    .await
}
