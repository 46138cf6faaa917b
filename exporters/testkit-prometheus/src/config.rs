//! The config file a server reads: Prometheus' `prometheus.yml` (rules, scrape configs), or
//! VictoriaMetrics' `-promscrape.config` when a test wants it to scrape.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;
use crate::options::Options;
use crate::receiver::Receiver;

/// Writes the config `receiver` needs into `dir`; `None` when it needs none.
pub(crate) fn write(
    receiver: Receiver,
    options: &Options,
    dir: &Path,
) -> Result<Option<PathBuf>, HarnessError> {
    let (name, text) = match receiver {
        Receiver::Prometheus2 | Receiver::Prometheus3 => {
            ("prometheus.yml", prometheus_config(options)?)
        }
        Receiver::VictoriaMetrics if options.scrape_configs.is_empty() => return Ok(None),
        Receiver::VictoriaMetrics => (
            "promscrape.yml",
            // Its scraper reads the same scrape_configs; it has no rules or evaluation interval.
            format!(
                "global:\n  scrape_interval: 1s\n{}",
                scrape_configs(options)
            ),
        ),
    };
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(Some(path))
}

fn prometheus_config(options: &Options) -> Result<String, HarnessError> {
    let mut cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: {}ms\n",
        options.evaluation_interval.as_millis()
    );
    if !options.rule_files.is_empty() {
        cfg.push_str("rule_files:\n");
        for f in &options.rule_files {
            let abs = std::fs::canonicalize(f).map_err(|source| HarnessError::RuleFile {
                path: f.clone(),
                source,
            })?;
            cfg.push_str(&format!("  - {:?}\n", abs.display().to_string()));
        }
    }
    cfg.push_str(&scrape_configs(options));
    Ok(cfg)
}

fn scrape_configs(options: &Options) -> String {
    let mut cfg = String::from("scrape_configs:\n");
    if options.scrape_configs.is_empty() {
        cfg.push_str("  []\n");
    }
    for sc in &options.scrape_configs {
        for line in sc.lines() {
            cfg.push_str("  ");
            cfg.push_str(line);
            cfg.push('\n');
        }
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn victoria_metrics_gets_a_scrape_config_only_when_it_scrapes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            write(Receiver::VictoriaMetrics, &Options::default(), dir.path())
                .unwrap()
                .is_none()
        );
        let options = Options {
            scrape_configs: vec![
                "- job_name: t\n  static_configs:\n    - targets: ['127.0.0.1:1']".into(),
            ],
            ..Options::default()
        };
        let path = write(Receiver::VictoriaMetrics, &options, dir.path())
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.contains("scrape_configs:\n  - job_name: t\n"),
            "{text}"
        );
        assert!(!text.contains("evaluation_interval"), "{text}");
    }

    #[test]
    fn a_missing_rule_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            rule_files: vec!["/nonexistent/rules.yml".into()],
            ..Options::default()
        };
        let e = write(Receiver::Prometheus3, &options, dir.path()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rules.yml"), "{e}");
    }
}
