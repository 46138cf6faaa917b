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

/// `args()` with the one change a test is about, so the test names only what it varies.
pub fn args_with(change: impl FnOnce(&mut TargetArgs)) -> TargetArgs {
    let mut a = args();
    change(&mut a);
    a
}

/// Starts a target with `args` and runs `test` against it with a loopback client, bounded as a
/// whole: the start-then-test preamble every test shares lives here once.
pub async fn serve(args: TargetArgs, test: impl AsyncFnOnce(TargetHandle, reqwest::Client)) {
    bounded(async {
        // The client first: a test that times the target's start must not time the client's.
        let c = client();
        let t = start(args).await;
        test(t, c).await
    })
    .await
}

/// Sends `req` and reads its JSON body, for the checks that look at the body alone.
pub async fn json_of(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send().await.unwrap().json().await.unwrap()
}

pub fn client() -> reqwest::Client {
    // no_proxy: a proxy variable in the environment must not route loopback tests elsewhere.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
