//! Starting the relay for a test, writing to it and reading what it stored, shared by the test
//! files.

use std::time::Duration;

use redline_k6_relay::{K6RelayArgs, K6RelayError, run};
use redline_remote_write::prompb::{Label, Sample, TimeSeries, WriteRequest};
use redline_testkit_prometheus::{Prometheus, free_port};
use tokio::task::JoinHandle;

/// `req` as a remote-write body: its protobuf encoding, snappy-compressed.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub fn snappy(req: &impl prost::Message) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

/// One series of `labels` with one sample, `v` at `ts`.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub fn series(labels: &[(&str, &str)], ts: i64, v: f64) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![Sample {
            value: v,
            timestamp: ts,
        }],
        ..Default::default()
    }
}

/// A remote-write body of five series `name{s="0".."4"}`, each with one sample, `v` at `ts`.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub fn five_series(name: &str, ts: i64, v: f64) -> Vec<u8> {
    snappy(&WriteRequest {
        timeseries: (0..5)
            .map(|s| series(&[("__name__", name), ("s", &s.to_string())], ts, v))
            .collect(),
        metadata: vec![],
    })
}

/// A relay whose one queue is full after 20 samples, ending 3 s after its last write:
/// `queue_full_wait` is how long a write finding it full is held, `shutdown_grace` how long
/// the queue may drain at the end.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub fn small_queue(args: &mut K6RelayArgs, shutdown_grace: Duration, queue_full_wait: Duration) {
    args.common.remote_write_shards = 1;
    args.common.remote_write_queue_capacity = 20;
    args.common.shutdown_grace = shutdown_grace;
    args.idle_exit = Duration::from_secs(3);
    args.queue_full_wait = queue_full_wait;
}

/// The highest value of the one `k6_http_reqs_total` series a relay of [`args_into`] stored in
/// `prom` over the last 5 minutes, after checking it is the only one, carries `testid` and no
/// longer the dropped `url` label.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub async fn stored_reqs_max(prom: &Prometheus, testid: &str) -> f64 {
    let got = prom
        .query("max_over_time(k6_http_reqs_total[5m])")
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].label("testid"), Some(testid), "testid added");
    assert_eq!(got[0].label("url"), None, "--drop-label url");
    got[0].float()
}

/// A relay running in the background on a free loopback port.
pub struct Relay {
    handle: JoinHandle<Result<(), K6RelayError>>,
    /// `http://127.0.0.1:PORT`, for paths other than the write endpoint.
    #[allow(dead_code)] // each test file compiles this module; not every one reads it
    pub origin: String,
    /// Its remote-write endpoint.
    pub url: String,
    http: reqwest::Client,
}

/// The relay the Prometheus-backed tests use: writes into `prom`, drops k6's `url` label and
/// exits one second after its last write.
pub fn args_into(prom: &Prometheus, testid: &str) -> K6RelayArgs {
    let mut args = K6RelayArgs::for_test(&prom.write_url(), testid);
    args.drop_labels = vec!["url".into()];
    args.idle_exit = Duration::from_secs(1);
    args
}

/// Starts the relay with `args` on a free port and waits (at most 20 s) until it accepts
/// connections: a fixed pause was too short on a loaded machine.
pub async fn start(mut args: K6RelayArgs) -> Relay {
    let port = free_port().unwrap();
    args.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let handle = tokio::spawn(run(args));
    let mut listening = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            listening = true;
            break;
        }
        assert!(!handle.is_finished(), "the relay exited before it listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        listening,
        "the relay did not listen on 127.0.0.1:{port} within 20 s"
    );
    let origin = format!("http://127.0.0.1:{port}");
    Relay {
        handle,
        url: format!("{origin}/api/v1/write"),
        origin,
        http: reqwest::Client::new(),
    }
}

/// A fresh Prometheus and a relay of [`args_into`] it as run `testid`.
#[allow(dead_code)] // each test file compiles this module; not every one calls it
pub async fn start_into_new_prometheus(testid: &str) -> (Prometheus, Relay) {
    let prom = Prometheus::start().await.unwrap();
    let relay = start(args_into(&prom, testid)).await;
    (prom, relay)
}

impl Relay {
    /// A snappy-compressed write of `body` as `content_type` to the write endpoint, to send as
    /// it is or with more headers.
    #[allow(dead_code)] // each test file compiles this module; not every one calls it
    pub fn write(&self, content_type: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("Content-Type", content_type)
            .header("Content-Encoding", "snappy")
            .body(body)
    }

    /// Waits (at most 30 s) for the relay to exit by itself after `--idle-exit`, cleanly.
    pub async fn ends_when_idle(self) {
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("relay exits after --idle-exit")
            .unwrap()
            .unwrap();
    }
}
