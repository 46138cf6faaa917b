//! No judge that cannot fire for want of input: every series an alert rule or a dashboard
//! query reads (parsed from `alerts/*.yml` and `dashboards/*.json` when the test runs, so it
//! covers whatever they hold then) must be either seen in a real Prometheus after the daemons
//! that write it ran into it, or an external series the catalogue names with its source
//! (`redline_catalogue::rules::EXTERNAL`, `external_source`).
//!
//! One Prometheus (the harness's, with every rule file loaded, so recording-rule outputs count
//! once they are evaluated) receives, all at once and each under its own testid: http-load
//! against the demo target with a scenario that produces the conditional series too (errors,
//! timeouts, 429s, dropped iterations, tokens, two steps for the drift baseline); a real Locust
//! run through locust-exporter; dst-client and churn on the in-process Kubernetes and
//! Destination servers (and a dst-client whose controller refuses connections, for the error
//! series); pprof-sampler on Prometheus' own `/debug/pprof` (and on an address nobody listens
//! on) with PodMetrics from the in-process API server; `tokens create`, `fit --watch`,
//! `hpa-watch` and `chaos` (pod-kill with a probe) on in-process API servers too. So the test
//! needs no control plane and always runs; the daemons' behaviour against the real one is in
//! their own `real_*` tests. Run by hack/test.sh (`cargo test --workspace`), so by `.ci/run`.

mod common;
mod live;

use std::collections::BTreeSet;

use redline_catalogue::rules::{EXTERNAL, external_source};
use redline_dashboards_check::reads::{recording_rules, series_read, without_offsets};
use redline_dashboards_check::repo_root;
use redline_testkit_prometheus::{Options, Prometheus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_a_rule_or_panel_reads_is_written_by_a_daemon_or_external() {
    let root = repo_root();
    let reads = series_read(&root.join("alerts"), &root.join("dashboards")).unwrap();
    assert!(reads.len() > 50, "only {} series read", reads.len());
    let rules: Vec<_> = redline_dashboards_check::files(&root.join("alerts"), ".yml");
    for (name, keys) in live::external::served() {
        let m = EXTERNAL.iter().find(|m| m.name == name).unwrap_or_else(|| {
            panic!("the external feed serves {name}, which is not catalogued as external")
        });
        assert!(
            keys.iter().all(|k| m.labels.contains(&k.as_str())),
            "the external feed's {name} has labels {keys:?}, the catalogue {:?}",
            m.labels
        );
    }
    let recorded = recording_rules(&root.join("alerts")).unwrap();
    let prom = Prometheus::start_with(Options {
        rule_files: rules,
        scrape_configs: vec![live::external::serve().await],
        ..Options::default()
    })
    .await
    .unwrap();
    let start = now();

    let dir = tempfile::tempdir().unwrap();
    tokio::join!(
        live::http_load(&prom, dir.path()),
        live::locust(&prom, dir.path()),
        live::destination(&prom),
        live::pprof(&prom),
        live::tokens(&prom, dir.path()),
        live::fit(&prom),
        live::hpa(&prom),
        live::chaos(&prom),
    );
    // Rules whose inputs arrived last still need an evaluation (every second here).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let names = prom.api("label/__name__/values", &[]).await.unwrap();
    let seen: BTreeSet<&str> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();

    let mut unseen = Vec::new();
    let mut external = Vec::new();
    let mut offset_free = Vec::new();
    for (series, origins) in &reads {
        if seen.contains(series.as_str()) {
            continue;
        }
        // A recorded series Prometheus did not record in time: a rule comparing now with
        // minutes ago has no output in a run of seconds, and on a loaded machine an evaluation
        // can miss inputs that lived a second or two. Its expression (without offsets) must
        // then return data at some second of the run, as the rule would have seen it.
        if let Some(exprs) = recorded.get(series) {
            let mut live = false;
            for e in exprs {
                let q = without_offsets(e);
                live |= !prom
                    .query_range(&q, start, now(), 1.0)
                    .await
                    .unwrap()
                    .is_empty();
            }
            if live {
                offset_free.push(series.clone());
                continue;
            }
        }
        if let Some(m) = EXTERNAL.iter().find(|m| m.name == series) {
            match external_source(m) {
                Some(source) => external.push(format!("{series} ({source})")),
                None => unseen.push(format!(
                    "{series}: external but names no source in its help, read by {}",
                    list(origins)
                )),
            }
            continue;
        }
        unseen.push(format!("{series}, read by {}", list(origins)));
    }
    eprintln!(
        "{} series read by rules and panels: {} seen in Prometheus, {} recorded ones live by their \
         expression over the run ({}), {} external not seen: {}",
        reads.len(),
        reads.len() - unseen.len() - external.len() - offset_free.len(),
        offset_free.len(),
        offset_free.join(", "),
        external.len(),
        external.join(", ")
    );
    assert!(
        unseen.is_empty(),
        "{} series read by rules or panels were never seen in Prometheus and are not external \
         with a source (write them from a daemon, catalogue them as external with a source, or \
         fix the rule):\n{}",
        unseen.len(),
        unseen.join("\n")
    );
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn list(origins: &BTreeSet<String>) -> String {
    origins.iter().cloned().collect::<Vec<_>>().join("; ")
}
