//! redline's reading of heap profiles against the reference: `go tool pprof -top` on the
//! same file. Profiles come from a real Go pprof endpoint (a Prometheus started by the
//! shared harness) fetched by the sampler itself, and from two saved Prometheus profiles.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use redline_pprof_sampler::archive::{Archive, ArchiveConfig};
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::profile::{self, Order, Parser};
use redline_pprof_sampler::sampler::{Sampler, SamplerSettings, Target};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const HEAP_TYPES: [&str; 4] = [
    "alloc_objects",
    "alloc_space",
    "inuse_objects",
    "inuse_space",
];

/// `go tool pprof -top` parsed: the total from "Showing nodes accounting for X, P% of T
/// total" and the rows (flat, cum, function) in its order.
#[derive(Debug)]
struct GoTop {
    total: f64,
    rows: Vec<(f64, f64, String)>,
}

/// pprof's value text: "2329559B", "4107.70kB", "-514kB", "75179", "0".
fn go_value(s: &str) -> f64 {
    let units = [
        ("TB", 1024f64.powi(4)),
        ("GB", 1024f64.powi(3)),
        ("MB", 1048576.0),
        ("kB", 1024.0),
        ("B", 1.0),
    ];
    for (u, f) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.parse::<f64>().unwrap_or_else(|_| panic!("{s}")) * f;
        }
    }
    s.parse().unwrap_or_else(|_| panic!("{s}"))
}

fn go_top(args: &[&str], file: &Path) -> GoTop {
    // -symbolize=none: Go's runtime writes profiles already symbolized, and pprof's
    // symbolize step would only re-spell names. It "demangles" any name with brackets as if
    // it were C++, dropping every "(...)": a generic instantiation such as
    // `substList[go.shape.interface { String() string }]` prints as `{ String string }`.
    // Without it, pprof shows the names the profile holds, the ones redline reads.
    let out = Command::new("go")
        .args(["tool", "pprof", "-symbolize=none", "-top"])
        .args(args)
        .arg(file)
        .output()
        .expect("go tool pprof (Debian golang-go) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut total = None;
    let mut rows = Vec::new();
    let mut in_rows = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            let t = rest
                .rsplit_once(" of ")
                .unwrap()
                .1
                .trim_end_matches(" total");
            total = Some(go_value(t));
        } else if line.trim_start().starts_with("flat ") {
            in_rows = true;
        } else if in_rows {
            let f: Vec<&str> = line.split_whitespace().collect();
            // flat flat% sum% cum cum% name...
            let name = f[5..].join(" ");
            let name = name
                .strip_suffix(" (inline)")
                .or_else(|| name.strip_suffix(" (partial-inline)"))
                .unwrap_or(&name)
                .to_string();
            rows.push((go_value(f[0]), go_value(f[3]), name));
        }
    }
    GoTop {
        total: total.unwrap_or_else(|| panic!("no total in {text}")),
        rows,
    }
}

/// Every function row and the total of every heap sample type must equal pprof's exact
/// (`-unit=B`) figures, and the top lists must come in pprof's order. Read as the sampler
/// reads them: the file's bytes, as served, through a [`Parser`].
fn assert_matches_go(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    let mut parser = Parser::new();
    let p = parser.read(&bytes).unwrap();
    for st in HEAP_TYPES {
        let go = go_top(
            &["-nodefraction=0", "-unit=B", &format!("-sample_index={st}")],
            file,
        );
        assert_eq!(p.total(st).unwrap() as f64, go.total, "{st} total");
        let ours: BTreeMap<String, (i64, i64)> = p
            .functions(st)
            .unwrap()
            .into_iter()
            .map(|s| (s.name, (s.flat, s.cum)))
            .collect();
        assert_eq!(ours.len(), go.rows.len(), "{st}: function count");
        for (flat, cum, name) in &go.rows {
            let (f, c) = ours
                .get(name)
                .unwrap_or_else(|| panic!("{st}: {name} missing"));
            assert_eq!((*f as f64, *c as f64), (*flat, *cum), "{st}: {name}");
        }
        let n = 10.min(go.rows.len());
        let top_flat: Vec<String> = profile::top(p.functions(st).unwrap(), n, Order::Flat)
            .into_iter()
            .map(|s| s.name)
            .collect();
        let go_flat: Vec<String> = go.rows[..n].iter().map(|r| r.2.clone()).collect();
        assert_eq!(top_flat, go_flat, "{st}: top by flat");
        let summary = p.summary(st, n).unwrap();
        let names: Vec<String> = summary.top_flat.into_iter().map(|s| s.name).collect();
        assert_eq!(names, go_flat, "{st}: summary's top by flat");
    }
    // -cum ordering, and pprof's default rounded units within their rounding.
    let go = go_top(
        &["-cum", "-nodefraction=0", "-sample_index=inuse_space"],
        file,
    );
    let total = p.total("inuse_space").unwrap() as f64;
    assert!(
        (total - go.total).abs() <= 0.005 * 1024.0 * 1024.0,
        "{total} vs {}",
        go.total
    );
    let n = 10.min(go.rows.len());
    let ours = profile::top(p.functions("inuse_space").unwrap(), n, Order::Cum);
    assert_eq!(p.summary("inuse_space", n).unwrap().top_cum, ours);
    for (o, (_, cum, name)) in ours.iter().zip(&go.rows) {
        assert_eq!(&o.name, name);
        // Two decimals of kB/MB: at most half a unit of the last digit off.
        let tol = if *cum >= 1048576.0 {
            0.005 * 1048576.0
        } else {
            0.005 * 1024.0
        };
        assert!(
            (o.cum as f64 - cum).abs() <= tol,
            "{name}: {} vs {cum}",
            o.cum
        );
    }
}

fn write_fixture(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn saved_prometheus_profiles_read_like_go_tool_pprof() {
    let dir = tempfile::tempdir().unwrap();
    assert_matches_go(&write_fixture(dir.path(), "a.pb.gz", common::FIXTURE_A));
    assert_matches_go(&write_fixture(dir.path(), "b.pb.gz", common::FIXTURE_B));
}

/// A large real heap profile (tens of thousands of samples through hundreds of functions,
/// deep inlined stacks), written by the benchmark's generator.
#[test]
fn large_real_go_heap_profile_reads_like_go_tool_pprof() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.pb.gz");
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen/realheap.go");
    let status = Command::new("go")
        .arg("run")
        .arg(&generator)
        .arg(&file)
        .arg("raw")
        .arg((256 << 10).to_string())
        .status()
        .expect("go (Debian golang-go) must be installed");
    assert!(status.success());
    assert_matches_go(&file);
}

#[test]
fn diff_matches_go_tool_pprof_diff_base() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_fixture(dir.path(), "a.pb.gz", common::FIXTURE_A);
    let b = write_fixture(dir.path(), "b.pb.gz", common::FIXTURE_B);
    let ours = redline_pprof_sampler::diff(&a, &b, 1000).unwrap();
    let go = go_top(
        &[
            "-nodefraction=0",
            "-unit=B",
            "-diff_base",
            a.to_str().unwrap(),
        ],
        &b,
    );
    assert_eq!(
        ours.base_total as f64, go.total,
        "diff percentages are of the base"
    );
    let go_rows: Vec<&(f64, f64, String)> = go
        .rows
        .iter()
        .filter(|r| r.0 != 0.0 || r.1 != 0.0)
        .collect();
    assert!(!go_rows.is_empty());
    assert_eq!(ours.rows.len(), go_rows.len(), "{ours}");
    for (o, g) in ours.rows.iter().zip(&go_rows) {
        assert_eq!(
            (o.flat as f64, o.cum as f64, &o.function),
            (g.0, g.1, &g.2),
            "{ours}"
        );
    }
    let top3 = redline_pprof_sampler::diff(&a, &b, 3).unwrap();
    assert_eq!(top3.rows, ours.rows[..3]);
    println!("{top3}");
}

/// The sampler fetches a real Go endpoint, sets its gauges and archives the bytes; the
/// gauges must equal what `go tool pprof` reads from the archived file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampler_gauges_equal_go_tool_pprof_on_the_archived_real_profile() {
    let prom = redline_testkit_prometheus::Prometheus::start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let archive = Archive::open(ArchiveConfig {
        dir: dir.path().into(),
        max_bytes: u64::MAX,
        max_files: 1,
    })
    .unwrap();
    let settings = SamplerSettings {
        // One sample only: gauges and the archived file then come from the same bytes.
        interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(10),
        gc_every: 0,
        top: 3,
        max_body_bytes: 64 << 20,
        testid: "gotest".into(),
    };
    let sampler = Arc::new(Sampler::new(settings, metrics, Some(archive)).unwrap());
    let base = prom.url();
    let base = base.trim_end_matches('/');
    let target = Target {
        pod: "prometheus-0".into(),
        container: "prometheus".into(),
        heap_url: format!("{base}/debug/pprof/heap"),
        goroutine_url: Some(format!("{base}/debug/pprof/goroutine?debug=1")),
    };
    let (_tx, rx) = watch::channel(vec![target]);
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (s, stop) = (sampler.clone(), stop.clone());
        async move { s.run(rx, stop).await }
    });
    let mut done = false;
    for _ in 0..200 {
        let s = common::series(&registry);
        if common::value(&s, "redline_pprof_samples_total", &[r#"result="ok""#]).is_some() {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    run.await.unwrap();
    let s = common::series(&registry);
    assert!(done, "no successful sample: {s:#?}");

    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("gotest-") && name.ends_with("-prometheus-0-heap.pb.gz"),
        "{name}"
    );
    assert_matches_go(&files[0]);

    let pod = r#"pod="prometheus-0""#;
    for (family, st) in [
        ("redline_pprof_heap_inuse_bytes", "inuse_space"),
        ("redline_pprof_heap_inuse_objects", "inuse_objects"),
        ("redline_pprof_heap_alloc_bytes", "alloc_space"),
        ("redline_pprof_heap_alloc_objects", "alloc_objects"),
    ] {
        let go = go_top(
            &["-nodefraction=0", "-unit=B", &format!("-sample_index={st}")],
            &files[0],
        );
        assert_eq!(
            common::value(&s, family, &[pod]),
            Some(go.total),
            "{family}"
        );
    }
    let go = go_top(
        &["-nodefraction=0", "-unit=B", "-sample_index=inuse_space"],
        &files[0],
    );
    for (rank, (flat, _, function)) in go.rows.iter().take(3).enumerate() {
        let labels = [
            pod,
            &format!(r#"function="{function}""#),
            &format!(r#"rank="{}""#, rank + 1),
            r#"kind="flat""#,
        ];
        assert_eq!(
            common::value(&s, "redline_pprof_top_inuse_bytes", &labels),
            Some(*flat),
            "{s:#?}"
        );
    }
    let top_series = s
        .keys()
        .filter(|k| k.starts_with("redline_pprof_top_inuse_bytes{"))
        .count();
    assert_eq!(top_series, 6, "3 flat + 3 cum");
    let goroutines = common::value(&s, "redline_pprof_goroutines", &[pod]).unwrap();
    assert!(
        goroutines >= 5.0,
        "a Prometheus runs dozens of goroutines: {goroutines}"
    );
    println!(
        "{name}: inuse {} B over {} functions, {goroutines} goroutines",
        go.total,
        go.rows.len()
    );
}
