//! The admin server's defaults for a CLI run: loopback only, and two runs at once on one
//! machine both finish and both push (the second, or both when another program holds
//! 127.0.0.1:9470, serve on a free port); an address the user chose is never swapped for
//! another one: taken, it is a plain error naming `--admin-addr`.

mod common;

use std::time::Duration;

use common::{prom, refused, target};
use redline_http_load::HttpLoadArgs;
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::Prometheus;

fn args(prom: &Prometheus, base: &str, testid: &str) -> HttpLoadArgs {
    let mut common = CommonArgs::for_test(&prom.write_url(), testid);
    common.admin_addr = None;
    let mut a = HttpLoadArgs::for_test(common);
    a.url = Some(format!("{base}/?sleep=5"));
    a.vus = Some(2);
    a.duration = Some(Duration::from_secs(2));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_with_the_default_admin_address_both_finish_and_push() {
    let prom = Prometheus::start().await.expect("prometheus");
    let target = target().await;
    let (a, b) = tokio::join!(
        redline_http_load::execute(args(&prom, &target.url(), "admin-a")),
        redline_http_load::execute(args(&prom, &target.url(), "admin-b")),
    );
    for (testid, r) in [("admin-a", a), ("admin-b", b)] {
        let outcome = r.unwrap_or_else(|e| panic!("{testid}: {e}"));
        assert!(
            outcome
                .summary
                .steps
                .iter()
                .map(|s| s.requests)
                .sum::<u64>()
                > 0
        );
        let sel = format!("k6_http_reqs_total{{testid=\"{testid}\"}}");
        let sets = prom::label_sets_when(&prom, &sel, |s| !s.is_empty()).await;
        assert!(!sets.is_empty(), "{testid} pushed nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_admin_address_that_is_taken_is_a_plain_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let common = CommonArgs {
        admin_addr: Some(held.local_addr().unwrap()),
        ..CommonArgs::default()
    };
    let mut a = HttpLoadArgs::for_test(common);
    a.url = Some("http://127.0.0.1:9/".into());
    let err = refused(a).await;
    assert!(
        err.contains(&held.local_addr().unwrap().to_string()) && err.contains("--admin-addr"),
        "{err}"
    );
}
