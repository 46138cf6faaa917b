use std::io::Write;

use redline_demo_target::{Endpoint, TargetArgs};
use serde_json::json;

use crate::{args, bounded, client, start};

fn files(tiers: &str, tokens: &str) -> (tempfile::TempDir, TargetArgs) {
    let dir = tempfile::tempdir().unwrap();
    let tiers_path = dir.path().join("tiers.yaml");
    let tokens_path = dir.path().join("tokens.csv");
    std::fs::File::create(&tiers_path)
        .unwrap()
        .write_all(tiers.as_bytes())
        .unwrap();
    std::fs::File::create(&tokens_path)
        .unwrap()
        .write_all(tokens.as_bytes())
        .unwrap();
    let a = TargetArgs {
        tiers: Some(tiers_path),
        tokens_file: Some(tokens_path),
        ..args()
    };
    (dir, a)
}

#[tokio::test]
async fn request_limit_answers_429_with_retry_after() {
    bounded(async {
        let (_dir, a) = files(
            "tiers:\n  free:\n    requests: 3\n    request-window: 60s\n  premium:\n    requests: 100\n",
            "free,tok-free-1\nfree,tok-free-2\npremium,tok-premium\n",
        );
        let t = start(a).await;
        let c = client();
        let get = |token: &'static str| c.get(format!("{}/?sleep=1", t.url())).bearer_auth(token).send();
        for _ in 0..3 {
            assert_eq!(get("tok-free-1").await.unwrap().status(), 200);
        }
        let limited = get("tok-free-1").await.unwrap();
        assert_eq!(limited.status(), 429);
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "retry-after {retry}");
        let body: serde_json::Value = limited.json().await.unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_exceeded");
        // Limits are per token, and other tiers have their own.
        assert_eq!(get("tok-free-2").await.unwrap().status(), 200);
        for _ in 0..5 {
            assert_eq!(get("tok-premium").await.unwrap().status(), 200);
        }
        // Without --require-auth, callers without a token are not limited.
        for _ in 0..5 {
            assert_eq!(c.get(t.url()).send().await.unwrap().status(), 200);
        }
        assert_eq!(t.stats().count(Endpoint::Autoscale, 429), 1);
    })
    .await
}

#[tokio::test]
async fn token_limit_charges_usage() {
    bounded(async {
        let (_dir, a) = files(
            "tiers:\n  free:\n    tokens: 20\n    token-window: 1m\n",
            "free,tok\n",
        );
        let t = start(TargetArgs {
            token_delay: std::time::Duration::ZERO,
            ..a
        })
        .await;
        let c = client();
        let post = || {
            c.post(format!("{}/v1/completions", t.url()))
                .bearer_auth("tok")
                .json(&json!({"prompt": "one two three four five", "max_tokens": 10}))
                .send()
        };
        assert_eq!(post().await.unwrap().status(), 200); // 15 used
        assert_eq!(post().await.unwrap().status(), 200); // 15 < 20: admitted, 30 used
        let limited = post().await.unwrap();
        assert_eq!(limited.status(), 429);
        assert!(limited.headers().contains_key("retry-after"));
    })
    .await
}

#[tokio::test]
async fn require_auth_rejects_missing_and_unknown_tokens() {
    bounded(async {
        let (_dir, a) = files("tiers:\n  enterprise: {}\n", "enterprise,good-token\n");
        let t = start(TargetArgs {
            require_auth: true,
            ..a
        })
        .await;
        let c = client();
        let url = format!("{}/api/v1/predict/1", t.url());
        let body = r#"{"features":[1]}"#;
        let missing = c.post(&url).body(body).send().await.unwrap();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        let unknown = c
            .post(&url)
            .bearer_auth("bad-token")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 401);
        let ok = c
            .post(&url)
            .bearer_auth("good-token")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        // Probes stay open.
        assert_eq!(
            c.get(format!("{}/health", t.url()))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(t.stats().count(Endpoint::Predict, 401), 2);
    })
    .await
}

#[tokio::test]
async fn built_in_tiers_match_tokens_by_prefix() {
    bounded(async {
        let t = start(args()).await;
        let c = client();
        let models = |token: &'static str| {
            c.get(format!("{}/v1/models", t.url()))
                .bearer_auth(token)
                .send()
        };
        // The MaaS free tier: 5 requests per 2 minutes; the premium tier is another bucket.
        for (token, status) in [
            ("free-user-1", 200),
            ("free-user-1", 200),
            ("free-user-1", 200),
            ("free-user-1", 200),
            ("free-user-1", 200),
            ("free-user-1", 429),
            ("premium-user-1", 200),
        ] {
            assert_eq!(models(token).await.unwrap().status(), status, "{token}");
        }
    })
    .await
}
