//! The build script's reading of the data files: what it writes for good input, and that bad
//! input stops it with the file, the line and the field. (The shipped files are read by every
//! build; these are the cases they do not contain.)

#[path = "../build/daemon.rs"]
mod daemon;
#[path = "../build/rules.rs"]
mod rules;
#[path = "../build/source.rs"]
mod source;
#[path = "../build/syntax.rs"]
mod syntax;

use source::Source;

/// Writes `text` as `name` in a fresh directory and reads it back as the build script does.
fn source(name: &str, text: &str) -> (tempfile::TempDir, Source) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the data file");
    let source = Source::read(&path).expect("read it back");
    (dir, source)
}

type Generate = fn(&Source) -> Result<String, String>;

/// The error `generate` gives for the sample with `from` replaced by `to`, read as `name`.
fn error_after_edit(name: &str, sample: &str, generate: Generate, from: &str, to: &str) -> String {
    let bad = sample.replacen(from, to, 1);
    assert_ne!(bad, sample, "{from} is in the sample");
    let (_dir, src) = source(name, &bad);
    generate(&src).expect_err("bad input is refused")
}

const DAEMON: &str = include_str!("samples/chaos.toml");

#[test]
fn a_daemon_file_becomes_the_macro_invocations() {
    let (_dir, src) = source("chaos.toml", DAEMON);
    let rust = daemon::generate(&src).expect("good input");
    let expected = r#"label_sets! {
    FaultLabels { fault }
    #[doc = "One \"response\"."]
    Response { scenario, status }
}

catalogue! {
    FAULTS_INJECTED: Counter<FaultLabels> = "redline_chaos_faults_injected_total",
        "Faults injected, by kind.";
    LOST_WRITES: Gauge = "redline_chaos_lost_writes",
        "Writes lost.";
}
"#;
    assert_eq!(rust, expected);
}

#[test]
fn a_daemon_file_mistake_names_file_line_and_field() {
    for (from, to, line, field) in [
        (
            "labels = \"FaultLabels\"",
            "labels = \"FaultLabel\"",
            9,
            "metric FAULTS_INJECTED, field `labels`",
        ),
        (
            "kind = \"Gauge\"",
            "kind = \"Recorded\"",
            15,
            "metric LOST_WRITES, field `kind`",
        ),
        (
            "_lost_writes\"",
            "_lost_writes_total\"",
            16,
            "metric LOST_WRITES, field `name`",
        ),
        (
            "const = \"LOST_WRITES\"",
            "const = \"FAULTS_INJECTED\"",
            14,
            "metric FAULTS_INJECTED, field `const`",
        ),
        (
            "\"Writes lost.\"",
            "\"  \"",
            17,
            "metric LOST_WRITES, field `help`",
        ),
        (
            "[\"fault\"]",
            "[\"fault\", \"type\"]",
            3,
            "[labels] FaultLabels, field `keys`",
        ),
        (
            "[\"fault\"]",
            "[\"fault\", \"testid\"]",
            3,
            "[labels] FaultLabels, field `keys`",
        ),
        (
            "FaultLabels = [",
            "faultLabels = [",
            3,
            "[labels] faultLabels, field `name`",
        ),
    ] {
        let message = error_after_edit("chaos.toml", DAEMON, daemon::generate, from, to);
        assert!(
            message.contains(&format!("chaos.toml:{line}: {field}: ")),
            "{to}: {message}"
        );
    }
}

/// toml's own errors (syntax, unknown fields, wrong types) keep its line and column.
#[test]
fn a_daemon_file_that_toml_refuses_names_the_line() {
    for (from, to, line) in [
        ("help = \"Faults", "hlep = \"Faults", 11),
        ("FaultLabels = [\"fault\"]", "FaultLabels = 3", 3),
        ("kind = \"Gauge\"", "kind = Gauge", 15),
    ] {
        let message = error_after_edit("chaos.toml", DAEMON, daemon::generate, from, to);
        assert!(
            message.contains("chaos.toml: TOML parse error at line ")
                && message.contains(&format!("line {line},")),
            "{to}: {message}"
        );
    }
}

const RULES: &str = include_str!("samples/rules.toml");

#[test]
fn a_rules_file_becomes_metric_arrays_with_the_group_defaults() {
    let (_dir, src) = source("rules.toml", RULES);
    let rust = rules::generate(&src).expect("good input");
    let expected = r#"#[doc = "Shared HTTP signals."]
pub const HTTP: &[crate::Metric] = &[
    crate::Metric {
        name: "redline:http_reqs:rate1m",
        kind: crate::Kind::Recorded,
        labels: &["scenario", "step"],
        help: "Requests per second.",
    },
];

#[doc = "Read, not written."]
pub const EXTERNAL: &[crate::Metric] = &[
    crate::Metric {
        name: "up",
        kind: crate::Kind::Gauge,
        labels: &[],
        help: "Prometheus: 1 when the scrape worked.",
    },
];

"#;
    assert_eq!(rust, expected);
}

#[test]
fn a_rules_file_mistake_names_file_line_and_field() {
    let field = |f: &str| format!("group EXTERNAL, metric up, field `{f}`");
    for (from, to, line, field) in [
        ("kind = \"Gauge\"\n", "", 16, field("kind")),
        ("kind = \"Gauge\"", "kind = \"Gauage\"", 18, field("kind")),
        ("labels = []\n", "", 16, field("labels")),
        ("labels = []", "labels = [\"a-b\"]", 16, field("labels")),
        (
            "name = \"up\"",
            "name = \"redline:http_reqs:rate1m\"",
            17,
            "group EXTERNAL, metric redline:http_reqs:rate1m, field `name`".into(),
        ),
        (
            "const = \"EXTERNAL\"",
            "const = \"External\"",
            13,
            "group, field `const`".into(),
        ),
    ] {
        let message = error_after_edit("rules.toml", RULES, rules::generate, from, to);
        assert!(
            message.contains(&format!("rules.toml:{line}: {field}: ")),
            "{to}: {message}"
        );
    }
}
