//! Finding each receiver's program on this machine, and knowing which version it is.
//!
//! Debian's Prometheus 2.42 and VictoriaMetrics come from `PATH`; Prometheus 3 is built from the
//! pinned Go module by `hack/go-tools.sh prometheus` (cached outside the clone), which is the one
//! place that knows where the build lives. Each can be overridden by an environment variable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::error::HarnessError;
use crate::receiver::Receiver;

/// A receiver's program, ready to spawn.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub path: PathBuf,
    /// `2.42.0+ds`, `3.16.0`; `None` when the build does not say (VictoriaMetrics from Debian,
    /// a Prometheus built without version stamping).
    pub version: Option<String>,
}

const PROMETHEUS2_ENV: &str = "REDLINE_PROMETHEUS_BIN";
const PROMETHEUS3_ENV: &str = "REDLINE_PROMETHEUS3_BIN";
const VICTORIA_METRICS_ENV: &str = "REDLINE_VICTORIA_METRICS_BIN";
const PROMTOOL2_ENV: &str = "REDLINE_PROMTOOL_BIN";
const PROMTOOL3_ENV: &str = "REDLINE_PROMTOOL3_BIN";

/// Finds `receiver`'s program; a missing one is [`HarnessError::Missing`] with the install step.
pub(crate) fn locate(receiver: Receiver) -> Result<Program, HarnessError> {
    let missing = |why: String| HarnessError::Missing {
        receiver: receiver.name(),
        why,
        install: receiver.install_step(),
    };
    match receiver {
        Receiver::Prometheus2 => {
            let path = env_path(PROMETHEUS2_ENV).unwrap_or_else(|| "prometheus".into());
            let version = prometheus_version(&path).map_err(missing)?;
            check_major(&path, version.as_deref(), "2", receiver)?;
            Ok(Program { path, version })
        }
        Receiver::Prometheus3 => {
            let path = match env_path(PROMETHEUS3_ENV) {
                Some(p) => p,
                None => go_tools_prometheus("prometheus").map_err(missing)?,
            };
            let version = prometheus_version(&path).map_err(missing)?;
            check_major(&path, version.as_deref(), "3", receiver)?;
            Ok(Program { path, version })
        }
        // Debian's build prints no version; a missing program shows when it is spawned.
        Receiver::VictoriaMetrics => Ok(Program {
            path: env_path(VICTORIA_METRICS_ENV).unwrap_or_else(|| "victoria-metrics".into()),
            version: None,
        }),
    }
}

/// The promtool of `receiver`'s Prometheus: Debian's for 2.42 (`REDLINE_PROMTOOL_BIN` or
/// `promtool` on `PATH`), the go-tools build for 3 (`REDLINE_PROMTOOL3_BIN` overrides), checked
/// to be that major version. VictoriaMetrics has none.
pub fn promtool(receiver: Receiver) -> Result<PathBuf, HarnessError> {
    let missing = |why: String| HarnessError::Missing {
        receiver: receiver.name(),
        why,
        install: receiver.install_step(),
    };
    let (path, major) = match receiver {
        Receiver::Prometheus2 => (
            env_path(PROMTOOL2_ENV).unwrap_or_else(|| "promtool".into()),
            "2",
        ),
        Receiver::Prometheus3 => match env_path(PROMTOOL3_ENV) {
            Some(p) => (p, "3"),
            None => (go_tools_prometheus("promtool").map_err(missing)?, "3"),
        },
        Receiver::VictoriaMetrics => {
            return Err(HarnessError::Unsupported {
                receiver: receiver.name(),
                why: "it has no promtool".into(),
            });
        }
    };
    let version = prometheus_version(&path).map_err(missing)?;
    check_major(&path, version.as_deref(), major, receiver)?;
    Ok(path)
}

fn env_path(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn check_major(
    path: &Path,
    version: Option<&str>,
    expected: &'static str,
    receiver: Receiver,
) -> Result<(), HarnessError> {
    match version {
        Some(v) if v.split('.').next() != Some(expected) => Err(HarnessError::WrongVersion {
            binary: path.to_path_buf(),
            expected: receiver.name(),
            found: v.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `prometheus --version`'s version, memoised per binary: every test starts a server, and
/// paging in a 100 MB binary just to read its version each time is wasted CPU.
fn prometheus_version(path: &Path) -> Result<Option<String>, String> {
    static SEEN: OnceLock<Mutex<HashMap<PathBuf, Option<String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.lock().expect("version cache").get(path) {
        return Ok(v.clone());
    }
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --version failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let version = parse_version(&String::from_utf8_lossy(&out.stdout));
    seen.lock()
        .expect("version cache")
        .insert(path.to_path_buf(), version.clone());
    Ok(version)
}

/// `prometheus, version 2.42.0+ds (branch: ...)` -> `2.42.0+ds`; an unstamped build prints
/// `prometheus, version  (branch: ...)` -> `None`.
fn parse_version(output: &str) -> Option<String> {
    let rest = output.lines().next()?.split("version").nth(1)?;
    let v = rest.split_whitespace().next()?;
    (!v.starts_with('(')).then(|| v.to_string())
}

/// `program` (prometheus or promtool) from the folder `hack/go-tools.sh prometheus` built (or
/// builds now, once per test process: on a cold cache that takes minutes, and its progress goes
/// to stderr).
fn go_tools_prometheus(program: &str) -> Result<PathBuf, String> {
    static FOLDER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let folder = FOLDER
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/go-tools.sh");
            let out = Command::new(&script)
                .arg("prometheus")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            let log = String::from_utf8_lossy(&out.stderr);
            if !log.trim().is_empty() {
                eprint!("{log}");
            }
            if out.status.success() {
                Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            } else {
                Err(format!(
                    "{} prometheus failed ({}): {}",
                    script.display(),
                    out.status,
                    log.trim()
                ))
            }
        })
        .clone()?;
    let binary = folder.join(program);
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "go-tools.sh printed {}, which holds no {program}",
            folder.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_first_line() {
        assert_eq!(
            parse_version(
                "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)\n  build user: x\n"
            )
            .as_deref(),
            Some("2.42.0+ds")
        );
        assert_eq!(
            parse_version("prometheus, version 3.16.0 (branch: , revision: unknown)").as_deref(),
            Some("3.16.0")
        );
        assert_eq!(
            parse_version("prometheus, version  (branch: , revision: unknown)"),
            None
        );
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn a_binary_of_the_other_major_version_is_refused() {
        let p = Path::new("/opt/prometheus");
        let e = check_major(p, Some("3.16.0"), "2", Receiver::Prometheus2).unwrap_err();
        assert!(
            matches!(&e, HarnessError::WrongVersion { found, .. } if found == "3.16.0"),
            "{e}"
        );
        assert!(e.to_string().contains("/opt/prometheus"), "{e}");
        check_major(p, Some("2.42.0+ds"), "2", Receiver::Prometheus2).unwrap();
        check_major(p, None, "3", Receiver::Prometheus3).unwrap();
    }

    #[test]
    fn a_program_that_cannot_run_is_named() {
        let e = prometheus_version(Path::new("/nonexistent/prometheus")).unwrap_err();
        assert!(e.contains("/nonexistent/prometheus"), "{e}");
    }
}
