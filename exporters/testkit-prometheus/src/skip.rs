//! Skipping a test whose program is not installed: loudly, and never under CI.

use std::io::Write;

use crate::error::HarnessError;

/// `Ok(None)`, after a banner on stderr naming the install step, when `result` is
/// [`HarnessError::Missing`]; under `CI=true` the missing program stays an error, so CI can never
/// pass by skipping. Every other result passes through.
pub fn skip_if_missing<T>(result: Result<T, HarnessError>) -> Result<Option<T>, HarnessError> {
    match result {
        Err(e @ HarnessError::Missing { .. }) if !in_ci() => {
            // Straight to the process' stderr: libtest captures eprintln! and shows it only for
            // failing tests, and a skip must be seen.
            let _ = writeln!(std::io::stderr(), "{}", skip_banner(&e));
            Ok(None)
        }
        other => other.map(Some),
    }
}

/// `CI` set to anything but empty, `0` or `false` (GitHub Actions, GitLab and `.ci/run` set
/// `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

fn skip_banner(e: &HarnessError) -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    let rule = "=".repeat(78);
    format!("{rule}\nSKIPPED {test}: {e}\n  (with CI=true this is a failure)\n{rule}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::Receiver;

    #[test]
    fn the_skip_banner_names_the_test_and_the_install_step() {
        let e = HarnessError::Missing {
            receiver: "VictoriaMetrics",
            why: "`victoria-metrics` is not on PATH".into(),
            install: Receiver::VictoriaMetrics.install_step(),
        };
        let banner = skip_banner(&e);
        assert!(banner.contains("SKIPPED"), "{banner}");
        assert!(
            banner.contains("the_skip_banner_names_the_test"),
            "{banner}"
        );
        assert!(
            banner.contains("apt-get install -y victoria-metrics"),
            "{banner}"
        );
    }

    #[test]
    fn other_errors_pass_through() {
        let e = skip_if_missing::<()>(Err(HarnessError::Query {
            query: "x".into(),
            message: "bad".into(),
        }));
        assert!(matches!(e, Err(HarnessError::Query { .. })));
        assert_eq!(skip_if_missing(Ok(3)).unwrap(), Some(3));
    }
}
