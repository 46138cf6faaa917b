use serde_json::{Value, json};

use crate::{args, serve};

#[tokio::test]
async fn single_and_batch_predictions() {
    serve(args(), async |t, c| {
        let url = format!("{}/api/v1/predict/1", t.url());
        let resp = c
            .post(&url)
            .json(&json!({"features": [5.1, 3.5, 1.4, 0.2]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({"model_id": "1", "predictions": [1]}));

        let resp = c
            .post(&url)
            .json(&json!({"instances": [[5.1, 3.5], [-6.0, -2.0], [0.0]]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["predictions"], json!([1, 0, 1]));
    })
    .await
}

#[tokio::test]
async fn malformed_bodies_get_422_with_json() {
    serve(args(), async |t, c| {
        let url = format!("{}/api/v1/predict/1", t.url());
        for body in [
            "{not json",
            r#"{"features":"abc"}"#,
            "{}",
            r#"{"instances":[]}"#,
        ] {
            let resp = c.post(&url).body(body).send().await.unwrap();
            assert_eq!(resp.status(), 422, "{body}");
            let v: Value = resp.json().await.unwrap();
            assert!(v["detail"][0]["msg"].is_string(), "{v}");
        }
        let resp = c.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 405);
    })
    .await
}

#[tokio::test]
async fn health_at_root_and_under_the_model_path() {
    serve(args(), async |t, c| {
        for path in ["/health", "/api/v1/predict/1/health"] {
            let resp = c.get(format!("{}{path}", t.url())).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v, json!({"status": "healthy"}));
        }
    })
    .await
}
