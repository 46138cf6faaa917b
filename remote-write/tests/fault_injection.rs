//! Status codes, headers and auth against a scripted receiver.

mod common;

use std::time::Duration;

use common::{FaultServer, Reply};
use redline_remote_write::{Auth, Config, RemoteWriter, Secret, Series, now_millis};

fn config(addr: std::net::SocketAddr) -> Config {
    Config {
        shards: 1,
        batch_send_deadline: Duration::from_millis(20),
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        staleness_markers: false,
        ..Config::new(format!("http://{addr}/api/v1/write"))
    }
}

/// The receiver records a request before the client has read the answer, so stats
/// that count the answer are awaited too (bounded) before they are asserted.
async fn wait_sent(w: &RemoteWriter, n: u64) {
    for _ in 0..200 {
        if w.stats().snapshot().sent >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A writer of a `queue_capacity`-sample queue whose receiver always answers 503: the shard
/// stays busy retrying, so the queue fills. The server must outlive the writer.
async fn writer_into_a_failing_receiver(
    queue_capacity: usize,
    max_samples_per_send: usize,
) -> (FaultServer, RemoteWriter) {
    let (srv, addr) = FaultServer::start(vec![Reply::status(503); 10_000]).await;
    let cfg = Config {
        queue_capacity,
        max_samples_per_send,
        ..config(addr)
    };
    (srv, RemoteWriter::start(cfg).unwrap())
}

async fn wait_requests(srv: &FaultServer, n: usize) {
    for _ in 0..200 {
        if srv.requests() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} requests, got {}", srv.requests());
}

#[tokio::test]
async fn server_errors_are_retried_until_accepted() {
    let (srv, addr) = FaultServer::start(vec![Reply::status(503), Reply::status(500)]).await;
    let w = RemoteWriter::start(config(addr)).unwrap();
    let s = Series::new("m", [("a", "1")]).unwrap();
    let t = now_millis();
    for i in 0..10 {
        assert!(w.push(&s, t + i, i as f64));
    }
    wait_requests(&srv, 3).await;
    wait_sent(&w, 10).await;
    let st = w.stats().snapshot();
    assert_eq!(st.sent, 10);
    assert_eq!(st.retried, 20, "two retries of a 10-sample batch");
    assert_eq!(st.failed, 20);
    assert_eq!(st.dropped(), 0);
    {
        let got = srv.received.lock().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0].request, got[2].request,
            "the same batch is sent again"
        );
    }
    w.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let (srv, addr) = FaultServer::start(vec![Reply {
        status: 429,
        headers: vec![("retry-after", "1".into())],
        body: "slow down",
    }])
    .await;
    let w = RemoteWriter::start(config(addr)).unwrap();
    let s = Series::new("m", [("a", "1")]).unwrap();
    w.push(&s, now_millis(), 1.0);
    wait_requests(&srv, 2).await;
    {
        let got = srv.received.lock().unwrap();
        let gap = got[1].at - got[0].at;
        assert!(
            gap >= Duration::from_millis(950),
            "retried after {gap:?}, not Retry-After"
        );
    }
    wait_sent(&w, 1).await;
    assert_eq!(w.stats().snapshot().sent, 1);
    assert_eq!(w.stats().snapshot().retried, 1);
    w.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn client_errors_drop_the_batch_without_retrying() {
    let (srv, addr) = FaultServer::start(vec![Reply {
        status: 400,
        headers: vec![],
        body: "out of order sample",
    }])
    .await;
    let w = RemoteWriter::start(config(addr)).unwrap();
    let s = Series::new("m", [("a", "1")]).unwrap();
    let t = now_millis();
    for i in 0..5 {
        w.push(&s, t + i, 1.0);
    }
    wait_requests(&srv, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(srv.requests(), 1, "a 400 must not be retried");
    let st = w.stats().snapshot();
    assert_eq!(st.dropped_rejected, 5);
    assert_eq!(st.retried, 0);
    assert_eq!(st.sent, 0);
    // The next batch goes out normally.
    w.push(&s, t + 10, 2.0);
    wait_requests(&srv, 2).await;
    w.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn requests_carry_the_spec_headers_auth_and_external_labels() {
    let (srv, addr) = FaultServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token\n").unwrap();
    let cfg = Config {
        auth: Auth::BearerFile(token.clone()),
        headers: vec![("X-Scope-OrgID".into(), "tenant-a".into())],
        external_labels: vec![
            ("cluster".into(), "c1".into()),
            ("a".into(), "ignored".into()),
        ],
        ..config(addr)
    };
    let w = RemoteWriter::start(cfg).unwrap();
    let s = Series::new("m", [("a", "1")]).unwrap();
    w.push(&s, now_millis(), 1.0);
    wait_requests(&srv, 1).await;
    // A rotated token is used from the next request on.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(&token, "second-token\n").unwrap();
    let mtime = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&token)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    w.push(&s, now_millis() + 1, 2.0);
    wait_requests(&srv, 2).await;
    {
        let got = srv.received.lock().unwrap();
        let h = &got[0].headers;
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
        assert!(h["user-agent"].to_str().unwrap().starts_with("redline/"));
        assert_eq!(h["x-scope-orgid"], "tenant-a");
        assert_eq!(h["authorization"], "Bearer first-token");
        assert_eq!(got[1].headers["authorization"], "Bearer second-token");
        let labels: Vec<(String, String)> = got[0].request.timeseries[0]
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        assert_eq!(
            labels,
            [("__name__", "m"), ("a", "1"), ("cluster", "c1")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
    w.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn basic_auth_is_sent_and_never_printed() {
    let (srv, addr) = FaultServer::start(vec![]).await;
    let cfg = Config {
        auth: Auth::Basic {
            username: "user".into(),
            password: Secret::new("s3cret"),
        },
        ..config(addr)
    };
    assert!(!format!("{cfg:?}").contains("s3cret"));
    let w = RemoteWriter::start(cfg).unwrap();
    w.push(&Series::new("m", [("a", "1")]).unwrap(), now_millis(), 1.0);
    wait_requests(&srv, 1).await;
    {
        let got = srv.received.lock().unwrap();
        // base64("user:s3cret")
        assert_eq!(got[0].headers["authorization"], "Basic dXNlcjpzM2NyZXQ=");
    }
    w.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_and_never_blocks_the_producer() {
    let (_srv, w) = writer_into_a_failing_receiver(100, 10).await;
    let s = Series::new("m", [("a", "1")]).unwrap();
    let t = now_millis();
    let pushed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut accepted = 0u64;
        for i in 0..50_000 {
            if w.push(&s, t + i, 1.0) {
                accepted += 1;
            }
        }
        accepted
    })
    .await
    .expect("push must never wait for the receiver");
    let st = w.stats().snapshot();
    assert!(
        pushed <= 100 + 10,
        "accepted {pushed} into a 100-sample queue"
    );
    assert_eq!(st.dropped_queue_full, 50_000 - pushed);
    assert!(st.queue_length <= 100, "queue length {}", st.queue_length);
    // At shutdown with a receiver still failing, what is left is dropped and said.
    let report = w.shutdown(Duration::from_millis(300)).await;
    assert!(!report.completed);
    assert!(report.dropped_at_deadline > 0);
}

#[tokio::test]
async fn invalid_configuration_is_refused_at_start() {
    let e = RemoteWriter::start(Config::new("prometheus:9090/api/v1/write"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("http://"), "{e}");
    let e = RemoteWriter::start(Config {
        auth: Auth::BearerFile("/nonexistent/token".into()),
        ..Config::new("http://127.0.0.1:1/api/v1/write")
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("/nonexistent/token"), "{e}");
    let e = RemoteWriter::start(Config {
        external_labels: vec![("bad-name".into(), "v".into())],
        ..Config::new("http://127.0.0.1:1/api/v1/write")
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("bad-name"), "{e}");
}

#[tokio::test]
async fn try_push_refuses_without_counting_a_drop_and_room_tells_how_much_fits() {
    let (_srv, w) = writer_into_a_failing_receiver(10, 2).await;
    let s = Series::new("m", [("a", "1")]).unwrap();
    let t = now_millis();
    let mut accepted = 0;
    for i in 0..100 {
        if w.try_push(&s, t + i, 1.0) {
            accepted += 1;
        }
    }
    assert!(accepted <= 12, "accepted {accepted}");
    assert_eq!(w.room(&s), 0);
    assert_eq!(
        w.stats().snapshot().dropped_queue_full,
        0,
        "try_push refusals are the caller's"
    );
    assert!(!w.push(&s, t + 1_000, 1.0));
    assert_eq!(
        w.stats().snapshot().dropped_queue_full,
        1,
        "push refusals are drops"
    );
    w.shutdown(Duration::from_millis(100)).await;
}
