//! `redline verdict` against a real Prometheus loading the real alerts/*.yml, fed by real
//! HTTP traffic to the demo target (or to a closed port) written through the real
//! remote-write client. Each test owns its Prometheus so they run concurrently.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use redline_testkit_prometheus::{Options, Prometheus};
use redline_verdict::{Report, RuleOutcome, StepClass, Verdict, VerdictArgs};

fn args(prom: &str, testid: &str, dir: &Path) -> VerdictArgs {
    let mut a = VerdictArgs::new(prom, testid);
    a.json = Some(dir.join("verdict.json"));
    a.junit = Some(dir.join("junit.xml"));
    a.html = Some(dir.join("report.html"));
    a.settle = Some(Duration::from_secs(3));
    a
}

fn read_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("verdict.json")).unwrap()).unwrap()
}

/// Runs `redline verdict` on `testid` with every output file in a new directory (returned
/// with the JSON report), and checks its verdict and exit code.
async fn judged(
    prom: &Prometheus,
    testid: &str,
    want: Verdict,
    exit: u8,
) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let verdict = redline_verdict::run(args(&prom.url(), testid, dir.path()))
        .await
        .unwrap();
    let report = read_json(dir.path());
    assert_eq!(verdict, want, "{report:#}");
    assert_eq!(verdict.exit_code(), exit);
    (dir, report)
}

/// Plays `steps` of scenario `burst` against `url`, written to `prom`.
async fn burst(
    prom: &Prometheus,
    testid: &str,
    url: &str,
    steps: Vec<common::Step>,
) -> common::Totals {
    common::run(&prom.write_url(), testid, "burst", url, steps).await
}

/// Parses the JUnit file and returns (test cases, failures, errors).
fn junit_counts(dir: &Path) -> (usize, usize, usize, String) {
    let text = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("junit is well-formed XML");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    let errors = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .count();
    (cases, failures, errors, text)
}

/// Plays `steps` of `scenario` against a demo target of its own (each step's path says
/// how it answers), written to `prom`.
async fn at_demo(
    prom: &Prometheus,
    testid: &str,
    scenario: &str,
    steps: Vec<common::Step>,
) -> common::Totals {
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .expect("demo target");
    common::run(&prom.write_url(), testid, scenario, &target.url(), steps).await
}

fn step(name: &'static str, vus: usize, path: &str, secs: u64) -> common::Step {
    common::Step {
        name,
        vus,
        path: path.to_string(),
        duration: Duration::from_secs(secs),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_run_passes_with_a_filled_table_and_renders_in_chromium() {
    let prom = common::prometheus_with_rules().await;
    let testid = "healthy-run";
    let totals = at_demo(
        &prom,
        testid,
        "burst",
        vec![
            step("1", 2, "/?sleep=50", 15),
            step("2", 4, "/?sleep=50", 15),
        ],
    )
    .await;
    assert!(totals.requests > 100 && totals.responded == totals.requests);

    let (dir, report) = judged(&prom, testid, Verdict::Pass, 0).await;

    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{report:#}");
    for (s, vus) in steps.iter().zip([2.0, 4.0]) {
        assert_eq!(s["level"].as_f64(), Some(vus));
        assert_eq!(s["unit"], "vus");
        assert_eq!(s["class"], "Healthy", "{s:#}");
        let p95 = s["p95_seconds"].as_f64().unwrap();
        // 50 ms sleeps land in the (50 ms, 100 ms] bucket.
        assert!(p95 > 0.05 && p95 <= 0.1, "p95 {p95}");
        assert!(s["p50_seconds"].as_f64().unwrap() <= p95);
        assert_eq!(s["success_ratio"].as_f64(), Some(1.0));
        assert_eq!(s["errors"].as_f64(), Some(0.0));
        let rps = s["actual_rps"].as_f64().unwrap();
        // A VU waits 50 ms per request, so it cannot exceed 20 requests/s (plus a
        // little for where the step's counters are read); a loaded machine is slower.
        assert!(
            rps > vus * 5.0 && rps <= vus * 20.5,
            "rps {rps} at {vus} VUs"
        );
    }
    let requests: f64 = steps.iter().map(|s| s["requests"].as_f64().unwrap()).sum();
    assert_eq!(requests as u64, totals.requests, "counter totals");
    let f = &report["findings"][0];
    assert_eq!(f["recommended_safe_limit"], "4 VUs");
    assert!(f["degradation_starts_at"].is_null());
    assert!(report["alerts"].as_array().unwrap().is_empty());

    let rules = report["rules"].as_array().unwrap();
    assert!(rules.len() > 20, "every verdict rule is listed");
    // The HTTP rules saw the run and passed; the chaos, destination, fit and pprof rules had
    // none of their series, so they are "no data", never "passed".
    let outcome = |name: &str| {
        rules
            .iter()
            .find(|r| r["rule"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"))["outcome"]
            .clone()
    };
    for name in [
        "RedlineLatencyBreaking",
        "RedlineErrorRatioBreaking",
        "RedlineSuccessRateBreaking",
    ] {
        assert_eq!(outcome(name), "passed", "{name}");
    }
    for name in [
        "RedlineChaosRecoveryTooLong",
        "RedlineDstUpdateLatencyP95",
        "RedlineFitOverBudget",
        "RedlineHeapGrowth",
        "RedlineTokenVolumeBreaking",
    ] {
        assert_eq!(outcome(name), "no_data", "{name}");
    }
    assert!(
        rules
            .iter()
            .all(|r| r["outcome"] == "passed" || r["outcome"] == "no_data"),
        "{rules:#?}"
    );
    let no_data = rules.iter().filter(|r| r["outcome"] == "no_data").count();
    let (cases, failures, errors, xml) = junit_counts(dir.path());
    assert_eq!(cases, rules.len() + 1);
    assert_eq!((failures, errors), (0, 0));
    assert_eq!(xml.matches("<skipped ").count(), no_data, "{xml}");
    assert!(xml.contains(&format!(r#"skipped="{no_data}""#)), "{xml}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains(">no data</td>"),
        "the HTML shows no data apart"
    );

    // The same run called a MaaS token-volume run: the rules that judge token volume saw
    // nothing (no step counted tokens), so the run is unjudged (exit 2), not passed.
    let mut a = args(&prom.url(), testid, dir.path());
    a.seeds = vec!["maas-tokens".into()];
    a.settle = Some(Duration::from_secs(0));
    let tokens: Report = redline_verdict::evaluate(&a).await.unwrap();
    assert_eq!(tokens.verdict, Verdict::Unjudged, "{}", tokens.reason);
    assert_eq!(tokens.exit_code(), 2);
    assert!(
        tokens.reason.contains("RedlineTokenVolumeBreaking")
            && !tokens.reason.contains("RedlineLatencyBreaking"),
        "{}",
        tokens.reason
    );
    let text = redline_verdict::render_text(&tokens);
    assert!(
        text.contains("VERDICT: UNJUDGED") && text.contains("[no data] RedlineTokenVolumeBreaking"),
        "{text}"
    );
    // Called a MaaS burst run, every rule that judges a burst had data: a pass.
    a.seeds = vec!["maas-burst".into()];
    let burst: Report = redline_verdict::evaluate(&a).await.unwrap();
    assert_eq!(burst.verdict, Verdict::Pass, "{}", burst.reason);
    a.seeds = vec!["no-such-seed".into()];
    let e = redline_verdict::evaluate(&a).await.unwrap_err().to_string();
    assert!(e.contains("--seed") && e.contains("maas-tokens"), "{e}");

    chromium::check_report(&dir.path().join("report.html"), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_erroring_step_fails_with_breaking_alerts_and_classification() {
    let prom = common::prometheus_with_rules().await;
    let testid = "failing-run";
    at_demo(
        &prom,
        testid,
        "burst",
        vec![
            step("1", 2, "/?sleep=50", 15),
            // 30 % fast 503s, the rest 1.5 s: p95 ~2.4 s (Degraded), errors 30 % (Breaking).
            step("2", 3, "/?sleep=1500&status=503&p=0.3", 15),
        ],
    )
    .await;

    let (dir, _) = judged(&prom, testid, Verdict::Fail, 1).await;

    let report: Report = redline_verdict::evaluate(&args(&prom.url(), testid, dir.path()))
        .await
        .unwrap();
    let fired = |name: &str, step: &str| {
        report
            .alerts
            .iter()
            .any(|a| a.alertname == name && a.step == step)
    };
    for name in [
        "RedlineErrorRatioBreaking",
        "RedlineSuccessRateBreaking",
        "RedlineServerErrors",
        "RedlineLatencyDegraded",
    ] {
        assert!(fired(name, "2"), "{name} on step 2: {:#?}", report.alerts);
    }
    // Every alert text carries its value, as Prometheus rendered it (no placeholder).
    for a in &report.alerts {
        let rule = &report
            .rules
            .iter()
            .find(|r| r.rule.name == a.alertname)
            .unwrap()
            .rule;
        if rule.summary.contains("$value") {
            let mut labels = a.labels.clone();
            for (k, v) in [("testid", testid), ("scenario", "burst"), ("step", "2")] {
                labels.insert(k.into(), v.into());
            }
            let blank = redline_verdict::template::render(&rule.summary, &labels, None);
            assert_ne!(a.summary, blank, "{} has no value", a.alertname);
            assert!(
                a.summary.chars().any(|c| c.is_ascii_digit()),
                "{}",
                a.summary
            );
        }
    }
    let text = |name: &str| {
        report
            .alerts
            .iter()
            .find(|a| a.alertname == name)
            .map(|a| a.summary.clone())
            .unwrap_or_default()
    };
    // 30 % 503s: a percentage, not a placeholder.
    assert!(
        text("RedlineServerErrors").contains("% of requests were answered 5xx"),
        "{}",
        text("RedlineServerErrors")
    );
    assert!(
        report.alerts.iter().all(|a| a.step == "2"),
        "step 1 was healthy: {:#?}",
        report.alerts
    );
    assert_eq!(report.steps.len(), 2);
    assert_eq!(report.steps[0].class, Some(StepClass::Healthy));
    assert_eq!(report.steps[1].class, Some(StepClass::Breaking));
    let e = report.steps[1].error_ratio.unwrap();
    assert!(e > 0.1 && e < 0.5, "error ratio {e}");
    assert!(report.steps[1].p95_seconds.unwrap() > 1.0);
    let f = &report.findings[0];
    assert_eq!(f.degradation_starts_at.as_deref(), Some("3 VUs"));
    assert_eq!(f.breaking_point.as_deref(), Some("3 VUs"));
    assert_eq!(f.recommended_safe_limit.as_deref(), Some("2 VUs"));

    let failed = report
        .rules
        .iter()
        .find(|r| r.rule.name == "RedlineErrorRatioBreaking")
        .unwrap();
    assert_eq!(failed.outcome, RuleOutcome::Failed);
    let (_, failures, _, xml) = junit_counts(dir.path());
    assert!(failures >= 3, "{xml}");
    assert!(xml.contains(r#"name="RedlineErrorRatioBreaking""#));
    let text = redline_verdict::render_text(&report);
    assert!(
        text.contains("Breaking") && text.contains("VERDICT: FAIL"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_closed_port_are_an_invalid_run_not_a_failed_application() {
    let prom = common::prometheus_with_rules().await;
    let testid = "invalid-run";
    let (port, _reserved) = common::closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let totals = burst(&prom, testid, &url, vec![step("1", 2, "/", 12)]).await;
    assert!(
        totals.requests > 50 && totals.responded == 0,
        "requests {} responded {}",
        totals.requests,
        totals.responded
    );

    let (dir, report) = judged(&prom, testid, Verdict::Invalid, 2).await;
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("invalid"), "{reason}");
    assert!(reason.contains("connect_refused"), "{reason}");
    assert_eq!(report["invalid"]["dominant_error"], "connect_refused");
    assert_eq!(report["invalid"]["responded"].as_f64(), Some(0.0));
    // The rules did fire fail alerts: the verdict still blames the infrastructure.
    assert!(
        report["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["verdict"] == "fail"),
        "{report:#}"
    );
    let (_, _, errors, xml) = junit_counts(dir.path());
    assert!(errors >= 1 && xml.contains(r#"type="invalid""#), "{xml}");
}

#[tokio::test]
async fn a_testid_without_data_cannot_be_evaluated() {
    let prom = common::prometheus_with_rules().await;
    let (dir, report) = judged(&prom, "nobody-ran-this", Verdict::CouldNotEvaluate, 2).await;
    assert!(
        report["reason"].as_str().unwrap().contains("no data"),
        "{report:#}"
    );
    // The rules are still listed; the run case carries the error.
    let (cases, _, errors, _) = junit_counts(dir.path());
    assert!(cases > 20);
    assert_eq!(errors, 1);
}

#[tokio::test]
async fn prometheus_down_cannot_be_evaluated_and_leaks_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token-value\n").unwrap();
    let (port, _reserved) = common::closed_port();
    let url = format!("http://alice:hunter2@127.0.0.1:{port}");
    let mut a = args(&url, "any", dir.path());
    a.bearer_token_file = Some(token);
    let report = redline_verdict::evaluate(&a).await.unwrap();
    assert_eq!(report.verdict, Verdict::CouldNotEvaluate);
    assert!(report.reason.contains("unreachable"), "{}", report.reason);
    let verdict = redline_verdict::run(a).await.unwrap();
    assert_eq!(verdict.exit_code(), 2);
    for file in ["verdict.json", "junit.xml", "report.html"] {
        let body = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(
            !body.contains("s3cret-token-value"),
            "{file} leaks the token"
        );
        assert!(!body.contains("hunter2"), "{file} leaks the password");
    }
    let text = redline_verdict::render_text(&report);
    assert!(!text.contains("hunter2") && !text.contains("s3cret"));
}

#[tokio::test]
async fn without_loaded_rules_the_run_cannot_be_judged() {
    // No rules at all.
    let bare = Prometheus::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = redline_verdict::evaluate(&args(&bare.url(), "r", dir.path()))
        .await
        .unwrap();
    assert_eq!(report.verdict, Verdict::CouldNotEvaluate);
    assert!(report.reason.contains("alerts/*.yml"), "{}", report.reason);

    // Alert rules loaded but not the recording rules: raw series, no redline: series.
    let partial = Prometheus::start_with(Options {
        rule_files: vec![common::alerts_dir().join("pipeline.yml")],
        evaluation_interval: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .unwrap();
    let writer = redline_remote_write::RemoteWriter::start(redline_remote_write::Config::new(
        partial.write_url(),
    ))
    .unwrap();
    let s = redline_remote_write::Series::new(
        "k6_http_reqs_total",
        [("testid", "raw-only"), ("status", "200"), ("step", "1")],
    )
    .unwrap();
    let now = redline_remote_write::now_millis();
    for i in 0..5 {
        writer.push(&s, now - 5000 + i * 1000, (i * 10) as f64);
    }
    assert!(writer.shutdown(Duration::from_secs(5)).await.completed);
    let mut a = args(&partial.url(), "raw-only", dir.path());
    a.settle = Some(Duration::from_secs(1));
    let report = redline_verdict::evaluate(&a).await.unwrap();
    assert_eq!(
        report.verdict,
        Verdict::CouldNotEvaluate,
        "{}",
        report.reason
    );
    assert!(
        report.reason.contains("no redline: recorded series"),
        "{}",
        report.reason
    );

    // --rules naming rules Prometheus does not have makes them visible, not silent passes.
    let mut a = args(&partial.url(), "raw-only", dir.path());
    a.rules = Some(common::alerts_dir());
    let report = redline_verdict::evaluate(&a).await.unwrap();
    assert!(
        report
            .rules
            .iter()
            .any(|r| r.outcome == RuleOutcome::NotLoaded && r.rule.name == "RedlineLatencyBreaking")
    );
}

mod chromium {
    //! Renders the HTML report in headless Chromium: the screenshot must not be blank and
    //! the SVG charts must be in the DOM.

    use super::*;
    use tokio::process::Command;

    fn binary() -> PathBuf {
        if let Ok(b) = std::env::var("REDLINE_CHROMIUM") {
            return PathBuf::from(b);
        }
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in std::env::var("PATH").unwrap_or_default().split(':') {
                let p = Path::new(dir).join(name);
                if p.is_file() {
                    return p;
                }
            }
        }
        panic!(
            "headless Chromium not found: install it (`apt-get install -y chromium`; CI does) or set REDLINE_CHROMIUM. The HTML report cannot be checked without it."
        );
    }

    async fn chromium(profile: &Path, extra: &[String], page: &Path) -> std::process::Output {
        let mut cmd = Command::new(binary());
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(90), cmd.output())
            .await
            .expect("chromium did not finish within 90 s")
            .expect("run chromium")
    }

    pub async fn check_report(html: &Path, dir: &Path) {
        let profile = tempfile::tempdir().unwrap();
        let png = dir.join("report.png");
        let out = chromium(
            profile.path(),
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1280,2000".to_string(),
            ],
            html,
        )
        .await;
        assert!(
            png.is_file(),
            "no screenshot; chromium said: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Keep the report and its screenshot for a human look (CI artifacts).
        if let Ok(keep) = std::env::var("REDLINE_VERDICT_ARTIFACTS") {
            let keep = Path::new(&keep);
            std::fs::create_dir_all(keep).unwrap();
            for f in ["report.html", "report.png", "verdict.json", "junit.xml"] {
                let _ = std::fs::copy(dir.join(f), keep.join(f));
            }
        }
        let (colours, inked) = png_stats(&png);
        assert!(colours >= 16, "screenshot looks blank: {colours} colours");
        assert!(
            inked > 0.02,
            "screenshot nearly empty: {inked:.3} non-white"
        );

        let profile = tempfile::tempdir().unwrap();
        let dom = chromium(profile.path(), &["--dump-dom".to_string()], html).await;
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom.matches("<svg").count() >= 2,
            "charts missing from the DOM"
        );
        assert!(
            dom.matches("<polyline").count() >= 4,
            "chart lines missing: {} polylines",
            dom.matches("<polyline").count()
        );
        assert!(dom.contains("<path"));
    }

    /// Distinct colours and the share of non-white pixels.
    fn png_stats(path: &Path) -> (usize, f64) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let bytes = &buf[..info.buffer_size()];
        let px = info.color_type.samples();
        assert!(px >= 3, "unexpected PNG colour type {:?}", info.color_type);
        let mut colours = std::collections::HashSet::new();
        let mut inked = 0usize;
        let pixels = bytes.len() / px;
        for p in bytes.chunks_exact(px) {
            colours.insert((p[0], p[1], p[2]));
            if p[0] < 240 || p[1] < 240 || p[2] < 240 {
                inked += 1;
            }
        }
        (colours.len(), inked as f64 / pixels.max(1) as f64)
    }
}

/// The MaaS seed's first step raises the Kuadrant limits; a run that forgot is throttled
/// (half its requests answered 429 here). Its verdict is INVALID (exit 2), naming the rule,
/// not a pass (429s are kept out of the success ratio) and not the application's failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maas_run_throttled_by_unraised_limits_is_invalid() {
    let prom = common::prometheus_with_rules().await;
    let testid = "maas-limits-not-raised";
    at_demo(
        &prom,
        testid,
        "maas-rate",
        // RedlineRateLimitsNotRaised holds for 1 m once the 1 m ratio exists.
        vec![step("1", 2, "/?sleep=20&status=429&p=0.5", 95)],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let report: Report = redline_verdict::evaluate(&args(&prom.url(), testid, dir.path()))
        .await
        .unwrap();
    assert_eq!(report.verdict, Verdict::Invalid, "{}", report.reason);
    assert_eq!(report.exit_code(), 2);
    assert!(
        report.reason.contains("RedlineRateLimitsNotRaised")
            && report.reason.contains("Kuadrant limits were not raised"),
        "{}",
        report.reason
    );
    assert!(
        report.invalid.is_none(),
        "the requests did reach the target"
    );
}
