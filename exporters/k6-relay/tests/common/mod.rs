//! Starting the relay for a test and waiting for it to end, shared by the test files.

use std::time::Duration;

use redline_k6_relay::{K6RelayArgs, K6RelayError, run};
use redline_testkit_prometheus::{Prometheus, free_port};
use tokio::task::JoinHandle;

/// A relay running in the background on a free loopback port.
pub struct Relay {
    handle: JoinHandle<Result<(), K6RelayError>>,
    /// `http://127.0.0.1:PORT`, for paths other than the write endpoint.
    #[allow(dead_code)] // each test file compiles this module; not every one reads it
    pub origin: String,
    /// Its remote-write endpoint.
    pub url: String,
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
    }
}

impl Relay {
    /// Waits (at most 30 s) for the relay to exit by itself after `--idle-exit`, cleanly.
    pub async fn ends_when_idle(self) {
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("relay exits after --idle-exit")
            .unwrap()
            .unwrap();
    }
}
