use std::time::{Duration, Instant};

use redline_demo_target::Endpoint;

use crate::{args, args_with, serve};

fn slept_ms(body: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix("Slept for "))
        .and_then(|l| l.strip_suffix(" milliseconds."))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no sleep line in {body:?}"))
}

#[tokio::test]
async fn sleep_latency_is_injected_within_tolerance() {
    serve(args(), async |t, c| {
        for (query, ms) in [
            ("sleep=100", 100),
            ("sleep=150ms", 150),
            ("sleep=0.2s", 200),
        ] {
            let begin = Instant::now();
            let resp = c.get(format!("{}/?{query}", t.url())).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.text().await.unwrap();
            let elapsed = begin.elapsed();
            let want = Duration::from_millis(ms);
            assert!(elapsed >= want, "{query}: answered after {elapsed:?}");
            // Generous: the bound catches a target that sleeps twice, not scheduler noise.
            assert!(
                elapsed < want + Duration::from_millis(500),
                "{query}: {elapsed:?}"
            );
            let slept = slept_ms(&body);
            assert!(slept >= ms as f64 && slept < ms as f64 + 500.0, "{body}");
        }
        t.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn sleep_stddev_spreads_samples_normally() {
    serve(args(), async |t, c| {
        let n = 300;
        let url = format!("{}/autoscale?sleep=200&sleep-stddev=80", t.url());
        let samples: Vec<f64> = futures::future::join_all((0..n).map(|_| {
            let (c, url) = (c.clone(), url.clone());
            async move { slept_ms(&c.get(url).send().await.unwrap().text().await.unwrap()) }
        }))
        .await;
        let mean = samples.iter().sum::<f64>() / n as f64;
        let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        // Standard errors are ~4.6 ms (mean) and ~3.3 ms (sd): the lower bounds sit 3.5 of them
        // below; the upper bounds leave room for wake-up lateness on a loaded machine, which
        // only ever adds. Long sleeps keep that lateness small next to what is measured.
        assert!((184.0..235.0).contains(&mean), "mean {mean:.1} ms");
        assert!((68.0..100.0).contains(&sd), "stddev {sd:.1} ms");
        // A zero stddev would still pass the mean check: make sure samples really spread.
        let min = samples.iter().cloned().fold(f64::MAX, f64::min);
        let max = samples.iter().cloned().fold(0.0, f64::max);
        assert!(max - min > 160.0, "range {min:.1}..{max:.1}");
    })
    .await
}

#[tokio::test]
async fn prime_and_bloat_reply_like_autoscale_go() {
    serve(args_with(|a| a.max_bloat_mb = 8), async |t, c| {
        let body = c
            .get(format!("{}/?prime=10000&bloat=5", t.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            body,
            "Allocated 5 Mb of memory.\nThe largest prime less than 10000 is 9973.\n"
        );
        for bad in ["bloat=9", "prime=10000001", "sleep=soon", "sleep-stddev=3"] {
            let resp = c.get(format!("{}/?{bad}", t.url())).send().await.unwrap();
            assert_eq!(resp.status(), 400, "{bad}");
        }
        // No work asked: autoscale-go answers 200 with an empty body.
        let resp = c.get(t.url()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "");
        assert_eq!(t.stats().count(Endpoint::Autoscale, 400), 4);
        assert_eq!(t.stats().count(Endpoint::Autoscale, 200), 2);
    })
    .await
}

#[tokio::test]
async fn reads_knative_payloads_and_refuses_oversized_ones() {
    serve(args_with(|a| a.max_body = 2_000_000), async |t, c| {
        for size in [10 * 1024, 100 * 1024, 1000 * 1024] {
            let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let resp = c
                .post(format!("{}/?sleep=10", t.url()))
                .body(payload)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{size} bytes");
            assert!(resp.text().await.unwrap().starts_with("Slept for"));
        }
        let resp = c
            .post(t.url())
            .body(vec![0u8; 2_000_001])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
    })
    .await
}
