//! The harness itself against the real programs: each receiver starts on its own port,
//! answers the query API, stops by pid and comes back on the same port with its data; a stock
//! start runs with the receiver flag alone; Prometheus 3 loads every rule file in alerts/.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{ALL, start};
use redline_testkit_prometheus::{HarnessError, Prometheus, Receiver, promtool, skip_if_missing};

#[tokio::test]
async fn starts_answers_and_restarts_on_the_same_port() {
    let mut p = Prometheus::start().await.expect("start");
    let up = p.query("vector(42)").await.unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].float(), 42.0);
    let port = p.port();
    p.stop();
    assert!(
        p.query("vector(1)").await.is_err(),
        "stopped server answered"
    );
    p.restart().await.unwrap();
    assert_eq!(p.port(), port);
    assert_eq!(p.scalar("vector(7)").await.unwrap(), Some(7.0));
}

#[tokio::test]
async fn bad_queries_are_errors_not_empty_results() {
    let p = Prometheus::start().await.unwrap();
    let e = p.query("sum(").await.unwrap_err();
    assert!(matches!(e, HarnessError::Query { .. }), "{e}");
}

/// The default follows REDLINE_TEST_PROMETHEUS, and the binary it runs is that major version.
#[tokio::test]
async fn the_default_prometheus_is_the_selected_major_version() {
    let selected = Receiver::from_env().unwrap();
    let p = Prometheus::start().await.unwrap();
    assert_eq!(p.receiver(), selected);
    let major = match selected {
        Receiver::Prometheus3 => "3.",
        _ => "2.",
    };
    let version = p.version().expect("Prometheus prints its version");
    assert!(version.starts_with(major), "{selected}: {version}");
}

#[tokio::test]
async fn every_receiver_stops_by_pid_and_restarts_with_its_data() {
    for receiver in ALL {
        let Some(mut p) = start(Prometheus::builder().receiver(receiver)).await else {
            continue;
        };
        assert_eq!(p.receiver(), receiver);
        assert_eq!(
            p.scalar("vector(42)").await.unwrap(),
            Some(42.0),
            "{receiver}"
        );
        let pid = p.pid().expect("running");
        let port = p.port();
        p.stop();
        assert!(p.pid().is_none());
        assert!(
            !PathBuf::from(format!("/proc/{pid}")).exists(),
            "{receiver}: pid {pid} still exists after stop"
        );
        assert!(p.query("vector(1)").await.is_err(), "{receiver} answered");
        p.restart().await.unwrap();
        assert_eq!(p.port(), port, "{receiver}");
        assert_ne!(p.pid(), Some(pid), "{receiver}: a new process");
        assert_eq!(p.scalar("vector(7)").await.unwrap(), Some(7.0));
    }
}

/// What the kernel says the process runs with, not what the harness meant to pass.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[tokio::test]
async fn a_stock_start_has_the_receiver_flag_and_nothing_else() {
    for receiver in ALL {
        let Some(p) = start(Prometheus::builder().receiver(receiver).stock()).await else {
            continue;
        };
        let args = cmdline(p.pid().unwrap());
        // Where its files live and where it listens, which every test needs, and then only
        // the flag a user adds to receive remote-write (VictoriaMetrics needs none).
        let beyond_placement: Vec<&str> = args[1..]
            .iter()
            .map(String::as_str)
            .filter(|a| {
                ![
                    "--config.file=",
                    "--storage.tsdb.path=",
                    "--web.listen-address=",
                    "-storageDataPath=",
                    "-httpListenAddr=",
                ]
                .iter()
                .any(|placement| a.starts_with(placement))
            })
            .collect();
        let expected: &[&str] = match receiver {
            Receiver::VictoriaMetrics => &[],
            _ => &["--web.enable-remote-write-receiver"],
        };
        assert_eq!(beyond_placement, expected, "{receiver}: {args:?}");
        assert_eq!(
            p.takes_native_histograms(),
            receiver == Receiver::Prometheus3,
            "{receiver}"
        );
    }
}

fn alerts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../alerts")
}

fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(alerts_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// Both Prometheus versions load every rule file and evaluate the thresholds from them.
#[tokio::test]
async fn both_prometheus_versions_load_and_evaluate_every_rule_file() {
    for receiver in [Receiver::Prometheus2, Receiver::Prometheus3] {
        let Some(p) = start(
            Prometheus::builder()
                .receiver(receiver)
                .rule_files(rule_files()),
        )
        .await
        else {
            continue;
        };
        let got = p
            .wait_for(
                "redline:threshold:p95_degraded_seconds{scenario=\"default\"}",
                Duration::from_secs(15),
                |r| !r.is_empty(),
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{receiver}: {got:?}\n{}", p.log());
        assert!(
            got[0].float() > 0.0,
            "{receiver}: threshold {}",
            got[0].float()
        );
        let log = p.log().to_lowercase();
        assert!(
            !log.contains("error"),
            "{receiver} logged errors with the rules loaded:\n{log}"
        );
    }
}

/// alerts/check.sh and the dashboard check run each Prometheus' own promtool.
#[test]
fn each_prometheus_has_its_promtool() {
    for (receiver, version) in [
        (Receiver::Prometheus2, "version 2."),
        (Receiver::Prometheus3, "version 3."),
    ] {
        let Some(path) = skip_if_missing(promtool(receiver)).unwrap() else {
            continue;
        };
        let out = std::process::Command::new(&path)
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("promtool,") && text.contains(version),
            "{}: {text}",
            path.display()
        );
    }
    assert!(promtool(Receiver::VictoriaMetrics).is_err());
}
