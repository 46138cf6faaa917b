//! The work loop against in-process endpoints that misbehave: failures are counted by
//! reason and never stop the sampling of the healthy target; fetches never overlap;
//! ?gc=1 every N; targets that leave lose their gauges; the archive cap holds.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::{Behaviour, series, serve, value};
use prometheus_client::registry::Registry;
use redline_pprof_sampler::archive::{Archive, ArchiveConfig};
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::profile;
use redline_pprof_sampler::sampler::{Sampler, SamplerSettings, Target};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn target(pod: &str, base: &str) -> Target {
    Target {
        pod: pod.into(),
        container: "c".into(),
        heap_url: format!("{base}/debug/pprof/heap"),
        goroutine_url: Some(format!("{base}/debug/pprof/goroutine?debug=1")),
    }
}

fn settings(interval_ms: u64, timeout_ms: u64, gc_every: u64) -> SamplerSettings {
    SamplerSettings {
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        gc_every,
        top: 2,
        max_body_bytes: 1 << 20,
        testid: "t1".into(),
    }
}

async fn wait_until(
    registry: &Registry,
    what: &str,
    f: impl Fn(&std::collections::BTreeMap<String, f64>) -> bool,
) {
    for _ in 0..300 {
        if f(&series(registry)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:#?}", series(registry));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_are_counted_by_reason_and_do_not_stop_sampling() {
    let good = serve(Behaviour::Profile(Bytes::from_static(common::FIXTURE_B))).await;
    let garbage = serve(Behaviour::Garbage).await;
    let slow = serve(Behaviour::Slow(Duration::from_millis(400))).await;
    let broken = serve(Behaviour::Status500).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(ArchiveConfig {
        dir: dir.path().into(),
        max_bytes: u64::MAX,
        // Names carry whole seconds, so 50 ms samples of one pod overwrite each other
        // within a second; a cap of one file is exceeded as soon as a second second starts.
        max_files: 1,
    })
    .unwrap();

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let sampler = Arc::new(Sampler::new(settings(50, 100, 3), metrics, Some(archive)).unwrap());
    let (_tx, rx) = watch::channel(vec![
        target("good", &good.url()),
        target("garbage", &garbage.url()),
        target("slow", &slow.url()),
        target("broken", &broken.url()),
        // Nothing listens on port 1.
        target("refused", "http://127.0.0.1:1"),
    ]);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (s, stop) = (sampler.clone(), stop.clone());
        async move { s.run(rx, stop).await }
    });
    wait_until(&registry, "10 good samples and a timeout", |s| {
        value(
            s,
            "redline_pprof_samples_total",
            &[r#"pod="good""#, r#"result="ok""#],
        )
        .unwrap_or(0.0)
            >= 10.0
            && value(s, "redline_pprof_sample_errors_total", &[r#"pod="slow""#]).unwrap_or(0.0)
                >= 2.0
            && value(s, "redline_pprof_archive_removed_total", &[]).unwrap_or(0.0) >= 1.0
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    let s = series(&registry);

    let err = |pod: &str, reason: &str| {
        value(
            &s,
            "redline_pprof_sample_errors_total",
            &[&format!(r#"pod="{pod}""#), &format!(r#"reason="{reason}""#)],
        )
    };
    assert!(err("garbage", "decode").unwrap() >= 1.0);
    assert!(err("slow", "timeout").unwrap() >= 2.0);
    assert!(err("broken", "http_status").unwrap() >= 1.0);
    assert!(err("refused", "connect").unwrap() >= 1.0);
    assert_eq!(err("good", "decode"), None);
    // The slow target's 400 ms fetch would have overlapped the 50 ms ticks; it timed out at
    // 100 ms instead and the ticks in between were skipped, never stacked.
    assert!(
        value(
            &s,
            "redline_pprof_samples_total",
            &[r#"pod="slow""#, r#"result="skipped""#]
        )
        .unwrap()
            >= 1.0
    );
    let requests = slow.seen.heap.load(Ordering::Relaxed) as f64;
    let attempts = value(
        &s,
        "redline_pprof_samples_total",
        &[r#"pod="slow""#, r#"result="error""#],
    )
    .unwrap();
    // One request per attempt; the stop may abort one last attempt before it is counted.
    assert!(
        requests == attempts || requests == attempts + 1.0,
        "{requests} requests, {attempts} attempts"
    );

    // The healthy target's gauges are the fixture's totals.
    let p = profile::decode(common::FIXTURE_B).unwrap();
    let good_l = r#"pod="good""#;
    assert_eq!(
        value(
            &s,
            "redline_pprof_heap_inuse_bytes",
            &[good_l, r#"container="c""#]
        ),
        Some(p.total("inuse_space").unwrap() as f64)
    );
    assert_eq!(
        value(&s, "redline_pprof_heap_alloc_objects", &[good_l]),
        Some(p.total("alloc_objects").unwrap() as f64)
    );
    assert_eq!(value(&s, "redline_pprof_goroutines", &[good_l]), Some(42.0));
    assert_eq!(
        value(&s, "redline_pprof_heap_inuse_bytes", &[r#"pod="garbage""#]),
        None
    );
    let top = s
        .keys()
        .filter(|k| k.starts_with("redline_pprof_top_inuse_bytes{"))
        .count();
    assert_eq!(top, 4, "top 2 flat + top 2 cum of the one good pod");

    // ?gc=1 on every third sample of a target.
    let heap = good.seen.heap.load(Ordering::Relaxed);
    let gc = good.seen.heap_gc.load(Ordering::Relaxed);
    assert_eq!(gc, heap / 3, "{gc} of {heap}");
    let counted = value(&s, "redline_pprof_gc_samples_total", &[good_l]).unwrap();
    assert!(
        counted == gc as f64 || counted + 1.0 == gc as f64,
        "{counted} vs {gc}"
    );
    assert!(gc >= 3);

    // The archive cap held while every good sample was saved.
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 1);
    assert_eq!(value(&s, "redline_pprof_archive_files", &[]), Some(1.0));
    assert!(value(&s, "redline_pprof_archive_removed_total", &[]).unwrap() >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_that_leave_lose_their_gauges_and_new_ones_are_sampled() {
    let a = serve(Behaviour::Profile(Bytes::from_static(common::FIXTURE_A))).await;
    let b = serve(Behaviour::Profile(Bytes::from_static(common::FIXTURE_B))).await;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let sampler = Arc::new(Sampler::new(settings(30, 500, 0), metrics, None).unwrap());
    let (tx, rx) = watch::channel(vec![target("pod-a", &a.url())]);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (s, stop) = (sampler.clone(), stop.clone());
        async move { s.run(rx, stop).await }
    });
    wait_until(&registry, "pod-a sampled", |s| {
        value(s, "redline_pprof_heap_inuse_bytes", &[r#"pod="pod-a""#]).is_some()
    })
    .await;
    tx.send(vec![target("pod-b", &b.url())]).unwrap();
    wait_until(&registry, "pod-b sampled and pod-a gone", |s| {
        value(s, "redline_pprof_heap_inuse_bytes", &[r#"pod="pod-b""#]).is_some()
            && value(s, "redline_pprof_heap_inuse_bytes", &[r#"pod="pod-a""#]).is_none()
    })
    .await;
    // Give any fetch of pod-a still in flight time to finish; it must not bring it back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    run.await.unwrap();
    let s = series(&registry);
    for k in s.keys().filter(|k| k.contains(r#"pod="pod-a""#)) {
        assert!(
            k.starts_with("redline_pprof_samples_total")
                || k.starts_with("redline_pprof_sample_duration"),
            "gauge of a gone pod left behind: {k}"
        );
    }
    assert_eq!(value(&s, "redline_pprof_targets", &[]), Some(1.0));
    let a_requests = a.seen.heap.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        a.seen.heap.load(Ordering::Relaxed),
        a_requests,
        "stopped means stopped"
    );
}
