//! The prober and the data check against a real process: the demo target is SIGKILLed
//! and restarted after a known delay.

mod support;

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redline_chaos::data::{self, DataConfig};
use redline_chaos::probe::{self, ProbeConfig, ProbeMetrics, ProbeSpec};
use support::{TargetOptions, free_port_on, start_target};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[test]
#[ignore = "helper: the demo target as a child process, started by the other tests"]
fn target_child() {
    support::target_child_main();
}

const CHILD: &str = "target_child";

#[tokio::test]
async fn measured_interruption_matches_a_real_kill_and_restart() {
    let addr = free_port_on([127, 77, 0, 1]);
    let opts = TargetOptions::default();
    let target = start_target(CHILD, addr, &opts).await;
    let cfg = ProbeConfig {
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        successes: 3,
    };
    let metrics = ProbeMetrics::default();
    let cancel = CancellationToken::new();
    let spec: ProbeSpec = format!("http://{addr}/health").parse().unwrap();
    let prober = probe::spawn(spec, cfg, metrics.clone(), cancel.clone()).unwrap();
    assert!(
        prober
            .settled(Instant::now(), Duration::from_secs(10))
            .await,
        "probe up before the kill"
    );
    assert_eq!(prober.failures(), 0);

    let killed_at = target.kill().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let target = start_target(CHILD, addr, &opts).await;
    let downtime = target.listening_at - killed_at;

    let seen = prober
        .interrupted_and_recovered(killed_at - cfg.interval, Duration::from_secs(20))
        .await
        .expect("the prober saw the outage end");
    let measured = seen.length();
    let error = measured.abs_diff(downtime);
    eprintln!(
        "interruption: measured {measured:?}, down {downtime:?}, {} failed",
        seen.failed
    );
    assert!(
        error <= cfg.interval,
        "measured {measured:?}, the target was down {downtime:?}: off by {error:?}"
    );
    // One failed attempt per interval of downtime, give or take the edges.
    let expected = downtime.as_millis() as u64 / 100;
    assert!(
        seen.failed.abs_diff(expected) <= 2,
        "{} failed attempts for {downtime:?}",
        seen.failed
    );
    assert_eq!(metrics.failures.get(), prober.failures());
    assert!(prober.settled(Instant::now(), Duration::from_secs(5)).await);
    assert_eq!(metrics.up.get(), 1);
    cancel.cancel();
    target.kill().await;
}

/// Writes through the data check, kills and restarts the target, verifies. Returns
/// (acknowledged before the kill, verification).
/// `ip` and `run` are the calling test's own, so no other test's target or writes can
/// stand in for this one's while it is down.
async fn kill_during_writes(
    opts: TargetOptions,
    ip: [u8; 4],
    run: &str,
) -> (u64, data::Verification, u64) {
    let addr = free_port_on(ip);
    let target = start_target(CHILD, addr, &opts).await;
    let cancel = CancellationToken::new();
    let lost = Counter::default();
    let checker = data::spawn(
        DataConfig {
            write: format!("PUT http://{addr}/kv/{{run}}/{{seq}}")
                .parse()
                .unwrap(),
            read: format!("GET http://{addr}/kv/{{run}}/{{seq}}")
                .parse()
                .unwrap(),
            shape: data::CheckShape::default(),
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(500),
            max_writes: 10_000,
            run_id: run.into(),
        },
        lost.clone(),
        cancel.clone(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while checker.acknowledged() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        checker.acknowledged() >= 20,
        "the target acknowledges writes"
    );
    target.kill().await;
    let acked_before = checker.acknowledged();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let target = start_target(CHILD, addr, &opts).await;
    // Some writes after the restart too: those must survive as well.
    let after = acked_before + 5;
    while checker.acknowledged() < after && Instant::now() < deadline + Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let v = checker.verify().await;
    assert_eq!(
        lost.get(),
        v.newly_lost,
        "the counter follows the verification"
    );
    // A second verification counts nothing twice.
    assert_eq!(checker.verify().await.newly_lost, 0);
    target.kill().await;
    (acked_before, v, checker.acknowledged())
}

#[tokio::test]
async fn acknowledged_writes_lost_on_restart_are_counted() {
    let (acked_before, v, acked_total) = kill_during_writes(
        TargetOptions {
            ack_before_write: true,
            ..TargetOptions::default()
        },
        [127, 77, 0, 2],
        "lost-writes",
    )
    .await;
    assert!(
        acked_total > acked_before,
        "writes resumed after the restart"
    );
    assert_eq!(v.unverified, 0);
    assert_eq!(
        v.newly_lost, acked_before,
        "every write acknowledged before the kill was only in memory"
    );
    assert_eq!(v.checked, acked_total);
}

#[tokio::test]
async fn durable_writes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (acked_before, v, acked_total) = kill_during_writes(
        TargetOptions {
            kv_file: Some(dir.path().join("kv.log")),
            ..TargetOptions::default()
        },
        [127, 77, 0, 3],
        "durable-writes",
    )
    .await;
    assert!(acked_before >= 20);
    assert_eq!(v.newly_lost, 0);
    assert_eq!(v.unverified, 0);
    assert_eq!(v.checked, acked_total);
}
