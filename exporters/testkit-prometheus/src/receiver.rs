//! The real remote-write receivers a test can start, and which one it gets by default.

use crate::error::HarnessError;

/// Which real server a test runs against. All three take remote-write 1.0 on
/// `/api/v1/write` and answer the Prometheus query API under `/api/v1/query*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Receiver {
    /// Debian's Prometheus 2.42 (`apt-get install prometheus`): what older installations run.
    Prometheus2,
    /// Prometheus 3.x built from the pinned Go module (`hack/go-tools.sh prometheus`): what
    /// kube-prometheus-stack ships today.
    Prometheus3,
    /// Debian's VictoriaMetrics single-node (`apt-get install victoria-metrics`): a second,
    /// non-Prometheus receiver with a Prometheus-compatible query API. It evaluates no rules.
    VictoriaMetrics,
}

impl Receiver {
    /// Chooses the Prometheus that `Prometheus::start()` and a builder without an explicit
    /// receiver start: `2` (the default) or `3`.
    pub const SELECT_ENV: &'static str = "REDLINE_TEST_PROMETHEUS";

    /// The default Prometheus for this test run, from [`Self::SELECT_ENV`].
    pub fn from_env() -> Result<Self, HarnessError> {
        match std::env::var(Self::SELECT_ENV) {
            Ok(value) => Self::from_selection(&value),
            Err(std::env::VarError::NotPresent) => Ok(Self::Prometheus2),
            Err(std::env::VarError::NotUnicode(raw)) => Err(HarnessError::BadEnv {
                variable: Self::SELECT_ENV,
                value: raw.to_string_lossy().into_owned(),
                why: "not UTF-8; use 2 or 3",
            }),
        }
    }

    /// Parses a [`Self::SELECT_ENV`] value. Empty means unset; anything but `2` or `3` is an
    /// error, so a typo never quietly runs the other version.
    pub fn from_selection(value: &str) -> Result<Self, HarnessError> {
        match value.trim() {
            "" | "2" => Ok(Self::Prometheus2),
            "3" => Ok(Self::Prometheus3),
            _ => Err(HarnessError::BadEnv {
                variable: Self::SELECT_ENV,
                value: value.to_string(),
                why: "use 2 (Debian's Prometheus 2.42) or 3 (Prometheus 3 from hack/go-tools.sh)",
            }),
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus2 => "Prometheus 2",
            Self::Prometheus3 => "Prometheus 3",
            Self::VictoriaMetrics => "VictoriaMetrics",
        }
    }

    /// The step that puts this receiver's program on the machine.
    pub fn install_step(self) -> &'static str {
        match self {
            Self::Prometheus2 => {
                "apt-get install -y prometheus   (or hack/install-deps.sh test; or set REDLINE_PROMETHEUS_BIN)"
            }
            Self::Prometheus3 => {
                "hack/go-tools.sh prometheus   (needs Go 1.26; or set REDLINE_PROMETHEUS3_BIN to a Prometheus 3 binary)"
            }
            Self::VictoriaMetrics => {
                "apt-get install -y victoria-metrics   (or hack/install-deps.sh test; or set REDLINE_VICTORIA_METRICS_BIN)"
            }
        }
    }

    /// Whether it evaluates recording and alerting rules itself (VictoriaMetrics leaves that
    /// to vmalert).
    pub fn evaluates_rules(self) -> bool {
        !matches!(self, Self::VictoriaMetrics)
    }

    /// The path that answers 200 once the server takes writes and queries.
    pub(crate) fn ready_path(self) -> &'static str {
        // VictoriaMetrics also serves /-/ready, but /health is what its docs name.
        match self {
            Self::VictoriaMetrics => "/health",
            _ => "/-/ready",
        }
    }
}

impl std::fmt::Display for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_is_two_or_three_and_nothing_else() {
        assert_eq!(Receiver::from_selection("").unwrap(), Receiver::Prometheus2);
        assert_eq!(
            Receiver::from_selection("2").unwrap(),
            Receiver::Prometheus2
        );
        assert_eq!(
            Receiver::from_selection(" 3 ").unwrap(),
            Receiver::Prometheus3
        );
        for typo in ["3.16", "v3", "prometheus3", "vm"] {
            let e = Receiver::from_selection(typo).unwrap_err().to_string();
            assert!(
                e.contains("REDLINE_TEST_PROMETHEUS") && e.contains(typo),
                "{e}"
            );
        }
    }
}
