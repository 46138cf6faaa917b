use std::time::{Duration, Instant};

use redline_demo_target::{Endpoint, TargetArgs};

use crate::{args, bounded, client, start};

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    bounded(async {
        let t = start(TargetArgs {
            token_delay: Duration::from_millis(50),
            ..args()
        })
        .await;
        let url = t.url();
        let mut stream = client()
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
        assert!(
            client().get(url).send().await.is_err(),
            "listener closed after shutdown"
        );
    })
    .await
}

#[tokio::test]
async fn serves_h2c_with_prior_knowledge() {
    bounded(async {
        let t = start(args()).await;
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
    bounded(async {
        let t = start(TargetArgs {
            startup_delay: Duration::from_millis(300),
            ..args()
        })
        .await;
        let begin = Instant::now();
        let resp = client()
            .get(format!("{}/health", t.url()))
            .send()
            .await
            .unwrap();
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
    bounded(async {
        let t = start(args()).await;
        let c = client();
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
