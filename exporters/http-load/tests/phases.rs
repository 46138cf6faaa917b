//! k6's request phases, measured from the wire, against raw HTTP/1.1 servers whose timing the
//! test controls: one that reads a request only 300 ms after it could (so writing a 16 MiB
//! body blocks: sending), one that answers 200 ms after reading it (waiting). The phases must
//! split the duration between them, and the summary must report the same figures.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{run_on, run_yaml};
use redline_runtime::CommonArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Clone, Copy)]
enum Slow {
    /// Sleep before reading each request.
    Read(Duration),
    /// Sleep between reading each request and answering it.
    Answer(Duration),
    /// Answer after this long with `connection: close`, and close.
    AnswerAndClose(Duration),
}

async fn raw_server(slow: Slow) -> SocketAddr {
    let sock = TcpSocket::new_v4().unwrap();
    // A small receive window: the client's writes block on what this server has not read.
    sock.set_recv_buffer_size(16 * 1024).unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(64).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, slow));
        }
    });
    addr
}

async fn serve(mut s: TcpStream, slow: Slow) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Slow::Read(d) = slow {
            tokio::time::sleep(d).await;
        }
        // Head, then Content-Length bytes of body.
        let mut head = Vec::new();
        let body_start = loop {
            let n = match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            head.extend_from_slice(&buf[..n]);
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut left = len - (head.len() - body_start);
        while left > 0 {
            match s.read(&mut buf[..left.min(64 * 1024)]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n,
            }
        }
        let answer: &[u8] = match slow {
            Slow::Read(_) => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            Slow::Answer(d) => {
                tokio::time::sleep(d).await;
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            }
            Slow::AnswerAndClose(d) => {
                tokio::time::sleep(d).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
                    )
                    .await;
                return;
            }
        };
        if s.write_all(answer).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_and_waiting_are_measured_from_the_wire_and_split_the_duration() {
    let slow_reader = raw_server(Slow::Read(Duration::from_millis(300))).await;
    let slow_answer = raw_server(Slow::Answer(Duration::from_millis(200))).await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 16 << 20]).unwrap();
    let run = run_on(
        "",
        &format!(
            r#"
scenarios:
  upload:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    requests: [{{name: upload, method: POST, url: "http://{slow_reader}/up", body: {{file: {big}}}}}]
  think:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    requests: [{{name: think, url: "http://{slow_answer}/think"}}]
"#,
            big = big.display()
        ),
    )
    .await;
    let text = run.text();
    let of = |family: &str, name: &str| run.histogram(family, &[("name", name)]);
    for name in ["upload", "think"] {
        let (n, dur) = of("k6_http_req_duration_seconds", name);
        assert_eq!(n, 3.0, "{name}: {text}");
        let mut parts = 0.0;
        for f in [
            "k6_http_req_sending_seconds",
            "k6_http_req_waiting_seconds",
            "k6_http_req_receiving_seconds",
            "k6_http_req_blocked_seconds",
        ] {
            let (c, s) = of(f, name);
            assert_eq!(c, 3.0, "{f}{{name={name}}} once per request");
            if f != "k6_http_req_blocked_seconds" {
                parts += s;
            }
        }
        // Closed model: duration = sending + waiting + receiving, each rounded down to 1 µs.
        assert!(
            (dur - parts).abs() <= 3.0 * 3e-6,
            "{name}: duration {dur} vs phases {parts}"
        );
        // One connection each (keep-alive), plain TCP: no TLS handshake.
        assert_eq!(of("k6_http_req_connecting_seconds", name).0, 1.0, "{name}");
        assert_eq!(of("k6_http_req_tls_handshaking_seconds", name).0, 0.0);
    }
    let avg = |family: &str, name: &str| {
        let (c, s) = of(family, name);
        s / c
    };
    for name in ["upload", "think"] {
        eprintln!(
            "{name}: sending {:.4}s waiting {:.4}s receiving {:.4}s blocked {:.4}s (averages)",
            avg("k6_http_req_sending_seconds", name),
            avg("k6_http_req_waiting_seconds", name),
            avg("k6_http_req_receiving_seconds", name),
            avg("k6_http_req_blocked_seconds", name)
        );
    }
    // The upload could not be written faster than the server started reading.
    assert!(
        avg("k6_http_req_sending_seconds", "upload") >= 0.25,
        "sending {}",
        avg("k6_http_req_sending_seconds", "upload")
    );
    assert!(
        avg("k6_http_req_waiting_seconds", "upload") < 0.15,
        "waiting {} (the write is not waiting)",
        avg("k6_http_req_waiting_seconds", "upload")
    );
    // The slow answer is waiting, not sending.
    assert!(avg("k6_http_req_waiting_seconds", "think") >= 0.19);
    assert!(avg("k6_http_req_sending_seconds", "think") < 0.05);

    // Iterations: one request each, so at least as long as the request.
    let (n, it) = run.histogram("k6_iteration_duration_seconds", &[]);
    assert_eq!(n, 6.0);
    let (_, dur) = run.histogram("k6_http_req_duration_seconds", &[]);
    assert!(it >= dur, "iterations {it} vs requests {dur}");

    // The summary reads the same cells.
    let m = &run.outcome.summary.data["metrics"];
    let sending_max_ms = m["http_req_sending"]["values"]["max"].as_f64().unwrap();
    assert!(sending_max_ms >= 250.0, "{}", m["http_req_sending"]);
    let waiting_max_ms = m["http_req_waiting"]["values"]["max"].as_f64().unwrap();
    assert!(
        (190.0..290.0).contains(&waiting_max_ms),
        "{}",
        m["http_req_waiting"]
    );
    assert!(m["iteration_duration"]["values"]["min"].as_f64().unwrap() >= 190.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_counts_the_wait_for_a_connection_slot() {
    let server = raw_server(Slow::AnswerAndClose(Duration::from_millis(100))).await;
    // Two VUs, one connection allowed, a server that closes after each answer: the VUs take
    // turns, each waiting ~100 ms for the other's connection to close before connecting.
    let run = run_yaml(
        "",
        &format!(
            "scenarios:\n  s:\n    executor: per-vu-iterations\n    vus: 2\n    iterations: 2\n    requests: [{{name: r, url: \"http://{server}/\"}}]\n"
        ),
        CommonArgs::default(),
        |a| a.max_connections = Some(1),
    )
    .await;
    let max_ms = run.summary_f64("http_req_blocked", "max");
    assert!(max_ms >= 80.0, "blocked max {max_ms} ms");
    run.assert_sums(&[
        ("k6_http_req_blocked_seconds_count", &[], 4.0),
        ("k6_http_req_connecting_seconds_count", &[], 4.0),
        ("k6_http_reqs_total", &[("status", "200")], 4.0),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iteration_of_several_requests_is_recorded_once_ending_with_its_last_request() {
    // The last request of an iteration records the iteration too (under the same shard lock),
    // also when that request fails: two 200 ms answers, then a refused connection.
    let slow_answer = raw_server(Slow::Answer(Duration::from_millis(200))).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let run = run_on(
        "",
        &format!(
            r#"
scenarios:
  chain:
    executor: per-vu-iterations
    vus: 1
    iterations: 2
    requests:
      - {{name: first, url: "http://{slow_answer}/a"}}
      - {{name: second, url: "http://{slow_answer}/b"}}
      - {{name: gone, url: "http://{refused}/c"}}
"#
        ),
    )
    .await;
    let text = run.text();
    assert_eq!(run.sum("k6_iterations_total", &[]), 2.0, "{text}");
    let (n, it) = run.histogram("k6_iteration_duration_seconds", &[]);
    assert_eq!(n, 2.0, "one iteration sample per iteration: {text}");
    let (reqs, dur) = run.histogram("k6_http_req_duration_seconds", &[]);
    assert_eq!(reqs, 6.0, "{text}");
    assert!(it >= dur, "iterations {it}s vs their requests {dur}s");
    // Each iteration waited for two 200 ms answers.
    let min_ms = run.summary_f64("iteration_duration", "min");
    assert!(min_ms >= 400.0, "iteration min {min_ms} ms");
}
