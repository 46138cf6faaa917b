use std::time::{Duration, Instant};

use redline_demo_target::Endpoint;

use crate::{args, args_with, client, serve};

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let a = args_with(|a| a.token_delay = Duration::from_millis(50));
    serve(a, async |t, c| {
        let url = t.url();
        let mut stream = c
            .post(format!("{url}/v1/completions"))
            .json(&serde_json::json!({"prompt": "x", "stream": true, "max_tokens": 6}))
            .send()
            .await
            .unwrap();
        // The first chunk proves the request is in flight before shutdown starts.
        let first = stream.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(b"data: "));
        let shutdown = tokio::spawn(t.shutdown());
        let mut rest = Vec::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            rest.extend_from_slice(&chunk);
        }
        assert!(
            String::from_utf8(rest)
                .unwrap()
                .ends_with("data: [DONE]\n\n")
        );
        shutdown.await.unwrap().unwrap();
        // A fresh client: a pooled connection must not stand in for the listener.
        assert!(
            client().get(url).send().await.is_err(),
            "listener closed after shutdown"
        );
    })
    .await
}

#[tokio::test]
async fn serves_h2c_with_prior_knowledge() {
    serve(args(), async |t, _| {
        let c = reqwest::Client::builder()
            .no_proxy()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let resp = c.get(format!("{}/health", t.url())).send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
    })
    .await
}

#[tokio::test]
async fn startup_delay_holds_the_first_request() {
    let a = args_with(|a| a.startup_delay = Duration::from_millis(300));
    serve(a, async |t, c| {
        let begin = Instant::now();
        let resp = c.get(format!("{}/health", t.url())).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // spawn returns when bound; the delay starts a moment later, never earlier.
        assert!(
            begin.elapsed() >= Duration::from_millis(250),
            "{:?}",
            begin.elapsed()
        );
    })
    .await
}

#[tokio::test]
async fn counts_requests_per_endpoint_and_status() {
    serve(args(), async |t, c| {
        for _ in 0..3 {
            c.get(format!("{}/health", t.url())).send().await.unwrap();
        }
        c.get(format!("{}/nowhere", t.url())).send().await.unwrap();
        c.get(format!("{}/?status=503", t.url()))
            .send()
            .await
            .unwrap();
        let stats = t.stats();
        assert_eq!(stats.count(Endpoint::Health, 200), 3);
        assert_eq!(stats.count(Endpoint::Other, 404), 1);
        assert_eq!(stats.count(Endpoint::Autoscale, 503), 1);
        assert_eq!(stats.total(), 5);
        assert_eq!(stats.snapshot().len(), 3);
    })
    .await
}
