//! Shared helpers for the http-load integration tests: run a YAML scenario against an
//! in-process demo target.

#![allow(dead_code)]

pub mod nginx;

use std::path::PathBuf;

use redline_http_load::{HttpLoadArgs, Outcome, execute};
use redline_runtime::CommonArgs;

pub struct Run {
    pub outcome: Outcome,
    pub dir: tempfile::TempDir,
}

pub fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `yaml` (with `BASE` replaced by the target URL) and returns what it reported.
pub async fn run_yaml(
    base: &str,
    yaml: &str,
    common: CommonArgs,
    tweak: impl FnOnce(&mut HttpLoadArgs),
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "scenario.yaml", &yaml.replace("BASE", base));
    let mut args = HttpLoadArgs::for_test(common);
    args.scenario = Some(path);
    tweak(&mut args);
    let outcome = execute(args).await.unwrap();
    Run { outcome, dir }
}

/// Sum of a family's samples in OpenMetrics text whose labels contain every `want` pair.
pub fn sum_of(text: &str, family: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(family))
        .filter(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub fn step_row<'a>(o: &'a Outcome, scenario: &str, step: &str) -> &'a redline_http_load::StepRow {
    o.summary
        .steps
        .iter()
        .find(|r| r.scenario == scenario && r.step == step)
        .unwrap_or_else(|| panic!("no step {scenario}/{step} in {:?}", o.summary.steps))
}
