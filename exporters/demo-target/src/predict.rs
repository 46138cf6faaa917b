//! KubeServe's inference API: `POST /api/v1/predict/{id}` with `{"features": [..]}` or
//! `{"instances": [[..], ..]}`, answered like its FastAPI server (422 for a body it cannot
//! validate). The "model" is a fixed logistic function, so answers are deterministic.

use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::body::{self, Body};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    features: Option<Vec<f64>>,
    instances: Option<Vec<Vec<f64>>>,
}

/// FastAPI's validation error shape, which KubeServe clients already parse.
fn unprocessable(msg: &str) -> Response<Body> {
    body::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"detail": [{"loc": ["body"], "msg": msg, "type": "value_error"}]}),
    )
}

/// Class 1 when the logistic of the mean feature crosses one half.
fn classify(features: &[f64]) -> u8 {
    let mean = features.iter().sum::<f64>() / features.len().max(1) as f64;
    u8::from(1.0 / (1.0 + (-mean).exp()) >= 0.5)
}

pub(crate) fn predict(model_id: &str, body: &[u8]) -> Response<Body> {
    let req: PredictRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return unprocessable(&format!("invalid JSON body: {e}")),
    };
    let predictions: Vec<u8> = match (req.features, req.instances) {
        (Some(f), None) if !f.is_empty() => vec![classify(&f)],
        (None, Some(batch)) if !batch.is_empty() && batch.iter().all(|i| !i.is_empty()) => {
            batch.iter().map(|i| classify(i)).collect()
        }
        _ => {
            return unprocessable(
                "want exactly one of a non-empty 'features' array or a non-empty 'instances' array of arrays",
            );
        }
    };
    body::json(
        StatusCode::OK,
        &json!({"model_id": model_id, "predictions": predictions}),
    )
}

pub(crate) fn health() -> Response<Body> {
    body::full(
        StatusCode::OK,
        "application/json",
        &br#"{"status":"healthy"}"#[..],
    )
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn json_of(resp: Response<Body>) -> (StatusCode, serde_json::Value) {
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn single_batch_and_invalid() {
        let (s, v) = json_of(predict("7", br#"{"features":[1.0,2.0]}"#)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v, json!({"model_id": "7", "predictions": [1]}));
        let (_, v) = json_of(predict("7", br#"{"instances":[[1,2],[-3,-4],[0.5]]}"#)).await;
        assert_eq!(v["predictions"], json!([1, 0, 1]));
        for bad in [
            &b"{"[..],
            br#"{"features":"x"}"#,
            br#"{}"#,
            br#"{"features":[]}"#,
            br#"{"features":[1],"instances":[[1]]}"#,
            br#"{"instances":[[]]}"#,
        ] {
            let (s, v) = json_of(predict("7", bad)).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(v["detail"][0]["msg"].is_string());
        }
    }
}
