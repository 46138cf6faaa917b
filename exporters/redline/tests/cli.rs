//! The binary as a user meets it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn redline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redline"))
}

#[test]
fn help_lists_the_built_subcommands() {
    let out = redline().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "http-load",
        "target",
        "chaos",
        "fit",
        "k6-relay",
        "locust-exporter",
        "tokens",
        "verdict",
        "pprof-sampler",
        "pprof",
        "churn",
        "dst-client",
    ] {
        assert!(text.contains(sub), "{sub} missing from:\n{text}");
    }
}

#[test]
fn unknown_flags_fail_with_a_message_naming_them() {
    let out = redline()
        .args(["target", "--no-such-flag"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[tokio::test]
async fn target_serves_and_stops_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = redline()
        .args(["target", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ok = false;
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "target never answered on {url}");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "target ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn verdict_without_prometheus_exits_2_not_pass() {
    let out = redline()
        .args([
            "verdict",
            "--prometheus",
            "http://127.0.0.1:1",
            "--testid",
            "nothing",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn pprof_diff_prints_growth_between_two_saved_profiles() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../pprof-sampler/tests/data");
    let out = redline()
        .args([
            "pprof",
            "diff",
            &format!("{data}/prometheus-heap-a.pb.gz"),
            &format!("{data}/prometheus-heap-b.pb.gz"),
            "--top",
            "5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() >= 5, "{text}");
}

#[test]
fn pprof_diff_names_a_missing_file() {
    let out = redline()
        .args([
            "pprof",
            "diff",
            "/nonexistent/a.pb.gz",
            "/nonexistent/b.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/a.pb.gz"), "{err}");
}

#[test]
fn a_run_whose_samples_never_arrive_exits_3_and_says_how_many() {
    // Nothing listens on either port: the requests fail (the run itself completes) and the
    // receiver is down for the whole run and the 1 s shutdown grace.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (target, receiver) = (free(), free());
    let out = redline()
        .args([
            "http-load",
            "--vus",
            "1",
            "--iterations",
            "3",
            "--quiet",
            "--no-summary",
            "--admin-addr",
            "127.0.0.1:0",
            "--shutdown-grace",
            "1s",
            "--remote-write-url",
            &format!("http://127.0.0.1:{receiver}/api/v1/write"),
            &format!("http://127.0.0.1:{target}/"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("samples lost"))
        .unwrap_or_else(|| panic!("no 'samples lost' line in:\n{stderr}"));
    assert!(
        line.contains("still unsent when the shutdown grace ended"),
        "{line}"
    );
}
