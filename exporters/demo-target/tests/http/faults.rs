use redline_demo_target::Endpoint;

use crate::{args, serve};

#[tokio::test]
async fn error_probability_is_within_statistical_bounds() {
    serve(args(), async |t, c| {
        let n = 400u64;
        let url = format!("{}/?status=503&p=0.3", t.url());
        let statuses = futures::future::join_all((0..n).map(|_| {
            let (c, url) = (c.clone(), url.clone());
            async move { c.get(url).send().await.unwrap().status().as_u16() }
        }))
        .await;
        let errors = statuses.iter().filter(|&&s| s == 503).count() as u64;
        assert_eq!(
            statuses.iter().filter(|&&s| s == 200).count() as u64,
            n - errors
        );
        // Binomial(400, 0.3): mean 120, sd 9.2; ±5 sd fails a correct target ~1e-6 of the time.
        assert!((74..=166).contains(&errors), "{errors} errors of {n}");
        assert_eq!(t.stats().count(Endpoint::Autoscale, 503), errors);
        assert_eq!(t.stats().count(Endpoint::Autoscale, 200), n - errors);
    })
    .await
}

#[tokio::test]
async fn faults_apply_to_every_endpoint_and_default_to_certain() {
    serve(args(), async |t, c| {
        let base = t.url();
        let cases = [
            c.get(format!("{base}/health?status=500")),
            c.post(format!("{base}/api/v1/predict/1?status=502"))
                .body(r#"{"features":[1]}"#),
            c.post(format!("{base}/v1/completions?status=429&p=1"))
                .body(r#"{"prompt":"x"}"#),
            c.get(format!("{base}/kv/k?status=504")),
        ];
        let want = [500, 502, 429, 504];
        for (req, want) in cases.into_iter().zip(want) {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), want);
            assert_eq!(resp.text().await.unwrap(), format!("injected {want}\n"));
        }
        let never = c
            .get(format!("{base}/health?status=500&p=0"))
            .send()
            .await
            .unwrap();
        assert_eq!(never.status(), 200);
        for bad in ["status=42", "status=503&p=2", "status=x"] {
            let resp = c.get(format!("{base}/?{bad}")).send().await.unwrap();
            assert_eq!(resp.status(), 400, "{bad}");
        }
    })
    .await
}
