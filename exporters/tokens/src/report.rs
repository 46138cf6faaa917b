//! What each subcommand prints. No report ever holds a token.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// ServiceAccount creation times of one tier (or of all tiers).
#[derive(Debug, Clone, PartialEq)]
pub struct TierSummary {
    pub tier: String,
    pub requested: u32,
    pub service_accounts: usize,
    pub tokens: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
    pub nearest_expiry: Option<Timestamp>,
}

impl TierSummary {
    pub fn new(
        tier: &str,
        requested: u32,
        mut create_times: Vec<Duration>,
        tokens: usize,
        nearest_expiry: Option<Timestamp>,
    ) -> Self {
        create_times.sort_unstable();
        Self {
            tier: tier.into(),
            requested,
            service_accounts: create_times.len(),
            tokens,
            p50: nearest_rank(&create_times, 0.50),
            p95: nearest_rank(&create_times, 0.95),
            max: create_times.last().copied().unwrap_or_default(),
            nearest_expiry,
        }
    }
}

/// The nearest-rank percentile of sorted values (zero when empty).
fn nearest_rank(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone)]
pub struct CreateReport {
    pub namespace: String,
    pub set: String,
    /// Per tier, then "all".
    pub tiers: Vec<TierSummary>,
    pub elapsed: Duration,
    pub failed: usize,
    /// The first few failures, for the summary (API errors never carry tokens).
    pub errors: Vec<String>,
    pub secret: Option<String>,
    pub output: Option<PathBuf>,
}

impl CreateReport {
    pub fn total(&self) -> Option<&TierSummary> {
        self.tiers.last()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretStatus {
    pub name: String,
    /// (tier, tokens) from the Secret's tier column.
    pub tokens: Vec<(String, usize)>,
    pub nearest_expiry: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub namespace: String,
    pub set: String,
    /// (tier, ServiceAccounts) from the tier labels.
    pub service_accounts: Vec<(String, usize)>,
    pub secrets: Vec<SecretStatus>,
    pub now: Timestamp,
}

impl StatusReport {
    pub fn nearest_expiry(&self) -> Option<Timestamp> {
        self.secrets.iter().filter_map(|s| s.nearest_expiry).min()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CleanupReport {
    pub namespace: String,
    pub set: String,
    pub service_accounts: usize,
    pub secrets: usize,
    pub file_removed: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum Report {
    Create(CreateReport),
    Status(StatusReport),
    Cleanup(CleanupReport),
    Limits(crate::limits::LimitsReport),
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn expiry(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.to_string())
}

impl fmt::Display for CreateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "token set {:?} in namespace {:?}: {} ServiceAccounts, {} tokens in {} s",
            self.set,
            self.namespace,
            total.map_or(0, |t| t.service_accounts),
            total.map_or(0, |t| t.tokens),
            secs(self.elapsed),
        )?;
        if let Some(s) = &self.secret {
            writeln!(f, "secret: {}/{s} (key tokens.csv)", self.namespace)?;
        }
        if let Some(p) = &self.output {
            writeln!(f, "file:   {} (mode 0600)", p.display())?;
        }
        writeln!(
            f,
            "{:<16} {:>9} {:>8} {:>7} {:>10} {:>10} {:>10}  nearest expiry",
            "tier", "requested", "created", "tokens", "p50 s", "p95 s", "max s"
        )?;
        for t in &self.tiers {
            writeln!(
                f,
                "{:<16} {:>9} {:>8} {:>7} {:>10} {:>10} {:>10}  {}",
                t.tier,
                t.requested,
                t.service_accounts,
                t.tokens,
                secs(t.p50),
                secs(t.p95),
                secs(t.max),
                expiry(t.nearest_expiry),
            )?;
        }
        if self.failed > 0 {
            writeln!(f, "{} failed:", self.failed)?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.service_accounts.iter().map(|(_, n)| n).sum();
        writeln!(
            f,
            "token set {:?} in namespace {:?}: {total} ServiceAccounts",
            self.set, self.namespace
        )?;
        writeln!(f, "{:<16} {:>16}", "tier", "serviceaccounts")?;
        for (tier, n) in &self.service_accounts {
            writeln!(f, "{tier:<16} {n:>16}")?;
        }
        for s in &self.secrets {
            let tokens: usize = s.tokens.iter().map(|(_, n)| n).sum();
            let per_tier: Vec<String> = s.tokens.iter().map(|(t, n)| format!("{t}={n}")).collect();
            writeln!(
                f,
                "secret {}: {tokens} tokens ({})",
                s.name,
                per_tier.join(", ")
            )?;
        }
        match self.nearest_expiry() {
            Some(t) if t <= self.now => writeln!(f, "nearest expiry: {t} (EXPIRED)"),
            Some(t) => {
                let left = t.as_second() - self.now.as_second();
                writeln!(
                    f,
                    "nearest expiry: {t} (in {})",
                    humantime::format_duration(Duration::from_secs(left.max(0) as u64))
                )
            }
            None => writeln!(
                f,
                "nearest expiry: unknown (no Secret; expiry is recorded only in the Secret)"
            ),
        }
    }
}

impl fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "token set {:?} in namespace {:?}: deleted {} ServiceAccounts and {} Secrets",
            self.set, self.namespace, self.service_accounts, self.secrets
        )?;
        if let Some(p) = &self.file_removed {
            writeln!(f, "removed {}", p.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Create(r) => r.fmt(f),
            Report::Status(r) => r.fmt(f),
            Report::Cleanup(r) => r.fmt(f),
            Report::Limits(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let t = TierSummary::new(
            "free",
            20,
            ms(&(1..=20).rev().collect::<Vec<_>>()),
            20,
            None,
        );
        assert_eq!(t.p50, Duration::from_millis(10));
        assert_eq!(t.p95, Duration::from_millis(19));
        assert_eq!(t.max, Duration::from_millis(20));
        let one = TierSummary::new("x", 1, ms(&[7]), 1, None);
        assert_eq!(
            (one.p50, one.p95, one.max),
            (ms(&[7])[0], ms(&[7])[0], ms(&[7])[0])
        );
        let none = TierSummary::new("x", 3, vec![], 0, None);
        assert_eq!(none.max, Duration::ZERO);
    }
}
