//! End-to-end tests over loopback: a real target spawned on port 0, a real HTTP client.

mod autoscale;
mod faults;
mod kv;
mod limits;
mod openai;
mod predict;
mod server;

use std::future::Future;
use std::time::Duration;

use redline_demo_target::{TargetArgs, TargetHandle};

/// Every test is bounded so a hung server fails the test instead of the CI job.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test exceeded 60 s")
}

pub async fn start(args: TargetArgs) -> TargetHandle {
    redline_demo_target::spawn(args)
        .await
        .expect("target starts")
}

pub fn args() -> TargetArgs {
    TargetArgs::ephemeral()
}

pub fn client() -> reqwest::Client {
    // no_proxy: a proxy variable in the environment must not route loopback tests elsewhere.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
