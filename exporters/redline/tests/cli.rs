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

#[test]
fn a_relay_that_answered_503_exits_3_and_says_what_it_gave_up() {
    use std::io::Write;
    // A receiver that is bound but never accepts: the queue's first send hangs, the queue
    // fills, and with --queue-full-wait 0 the next writes are answered 503 at once.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver = stuck.local_addr().unwrap().port();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut relay = redline()
        .args([
            "k6-relay",
            "--listen",
            &listen.to_string(),
            "--admin-addr",
            "127.0.0.1:0",
            "--remote-write-shards",
            "1",
            "--remote-write-queue-capacity",
            "20",
            "--queue-full-wait",
            "0s",
            "--idle-exit",
            "2s",
            "--shutdown-grace",
            "1s",
            "--remote-write-url",
            &format!("http://127.0.0.1:{receiver}/api/v1/write"),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The same write (5 samples) until a 503 comes back, at most 40 times.
    let body = write_request_body();
    let mut got_503 = false;
    for _ in 0..40 {
        let Ok(mut s) = std::net::TcpStream::connect(listen) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        let mut answer = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut answer);
        if answer.starts_with("HTTP/1.1 503") {
            got_503 = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(got_503, "the queue never filled");
    let started = Instant::now();
    let out = loop {
        if let Some(status) = relay.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the relay did not exit after --idle-exit"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut relay.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(out.code(), Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("before the remote-write queue"))
        .unwrap_or_else(|| panic!("no line for the relay's own losses in:\n{stderr}"));
    assert!(line.contains("queue_full"), "{line}");
    drop(stuck);
}

/// A remote-write 1.0 body: 5 series `m{s="0".."4"}`, one sample each at now.
fn write_request_body() -> Vec<u8> {
    use prost::Message;
    use redline_remote_write::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let now = redline_remote_write::now_millis();
    let req = WriteRequest {
        timeseries: (0..5)
            .map(|s| TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "m".into(),
                    },
                    Label {
                        name: "s".into(),
                        value: s.to_string(),
                    },
                ],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: now,
                }],
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}
