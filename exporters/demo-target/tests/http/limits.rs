use std::time::Duration;

use redline_demo_target::{Endpoint, TargetArgs};
use serde_json::json;

use crate::{args, serve};

fn files(tiers: &str, tokens: &str) -> (tempfile::TempDir, TargetArgs) {
    let dir = tempfile::tempdir().unwrap();
    let tiers_path = dir.path().join("tiers.yaml");
    let tokens_path = dir.path().join("tokens.csv");
    std::fs::write(&tiers_path, tiers).unwrap();
    std::fs::write(&tokens_path, tokens).unwrap();
    let a = TargetArgs {
        tiers: Some(tiers_path),
        tokens_file: Some(tokens_path),
        ..args()
    };
    (dir, a)
}

#[tokio::test]
async fn request_limit_answers_429_with_retry_after() {
    let (_dir, a) = files(
        "tiers:\n  free:\n    requests: 3\n    request-window: 60s\n  premium:\n    requests: 100\n",
        "free,tok-free-1\nfree,tok-free-2\npremium,tok-premium\n",
    );
    serve(a, async |t, c| {
        let get = |token: &'static str| {
            c.get(format!("{}/?sleep=1", t.url()))
                .bearer_auth(token)
                .send()
        };
        for _ in 0..3 {
            assert_eq!(get("tok-free-1").await.unwrap().status(), 200);
        }
        let limited = get("tok-free-1").await.unwrap();
        assert_eq!(limited.status(), 429);
        let retry: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
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
    let (_dir, mut a) = files(
        "tiers:\n  free:\n    tokens: 20\n    token-window: 1m\n",
        "free,tok\n",
    );
    a.token_delay = Duration::ZERO;
    serve(a, async |t, c| {
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
    let (_dir, mut a) = files("tiers:\n  enterprise: {}\n", "enterprise,good-token\n");
    a.require_auth = true;
    serve(a, async |t, c| {
        let url = format!("{}/api/v1/predict/1", t.url());
        let body = r#"{"features":[1]}"#;
        let missing = c.post(&url).body(body).send().await.unwrap();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        let post = |token: &'static str| c.post(&url).bearer_auth(token).body(body).send();
        assert_eq!(post("bad-token").await.unwrap().status(), 401);
        assert_eq!(post("good-token").await.unwrap().status(), 200);
        // Probes stay open.
        let health = c.get(format!("{}/health", t.url())).send().await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(t.stats().count(Endpoint::Predict, 401), 2);
    })
    .await
}

#[tokio::test]
async fn built_in_tiers_match_tokens_by_prefix() {
    serve(args(), async |t, c| {
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
