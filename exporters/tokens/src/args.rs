//! Flags of `redline tokens create|status|cleanup`. Every flag is also a `REDLINE_TOKENS_*`
//! environment variable.

use std::path::PathBuf;
use std::time::Duration;

use redline_runtime::CommonArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokensCommand {
    /// Create labelled ServiceAccounts and bound tokens; write them to a Secret and/or a file.
    Create(Box<CreateArgs>),
    /// Counts per tier and the nearest expiry of a token set (never the tokens).
    Status(SetArgs),
    /// Delete every ServiceAccount and Secret of a token set (idempotent).
    Cleanup(CleanupArgs),
    /// Raise Kuadrant RateLimitPolicy/TokenRateLimitPolicy limits for a run, hold them,
    /// and restore the originals after it (also on SIGTERM/SIGINT).
    Limits(Box<LimitsArgs>),
}

impl TokensArgs {
    /// The runtime flags, for the binary's tracing setup; `create` and `limits` have them.
    pub fn common(&self) -> Option<&CommonArgs> {
        match &self.command {
            TokensCommand::Create(c) => Some(&c.common),
            TokensCommand::Limits(l) => Some(&l.common),
            _ => None,
        }
    }
}

/// Which token set, where.
#[derive(Debug, Clone, clap::Args)]
pub struct SetArgs {
    /// Namespace of the ServiceAccounts and the Secret (default: the kubeconfig's).
    #[arg(long, short = 'n', env = "REDLINE_TOKENS_NAMESPACE")]
    pub namespace: Option<String>,
    /// Name of the token set: the `redline.dev/tokens` label value and the ServiceAccount
    /// name prefix, so several sets can live in one namespace.
    #[arg(long, env = "REDLINE_TOKENS_SET", default_value = "redline", value_parser = parse_name)]
    pub set: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub set: SetArgs,
    /// Tokens per tier named without a count in --tier.
    #[arg(long, env = "REDLINE_TOKENS_COUNT", default_value_t = 10)]
    pub count: u32,
    /// Tier, or tier=count (repeatable): `--tier free --count 50`, or
    /// `--tier free=30 --tier premium=15 --tier enterprise=5`.
    #[arg(long = "tier", env = "REDLINE_TOKENS_TIERS", value_delimiter = ',', default_value = "free", value_parser = parse_tier)]
    pub tiers: Vec<TierSpec>,
    /// Token lifetime (TokenRequest expirationSeconds; the API server's minimum is 10m).
    #[arg(long, env = "REDLINE_TOKENS_EXPIRY", default_value = "4h", value_parser = humantime::parse_duration)]
    pub expiry: Duration,
    /// Token audience (repeatable; default: the API server's own audiences).
    #[arg(
        long = "audience",
        env = "REDLINE_TOKENS_AUDIENCES",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,
    /// Write the tokens to this Secret (key `tokens.csv`, one `tier,token` per line), in the
    /// set's namespace; the chart mounts it for http-load.
    #[arg(long, env = "REDLINE_TOKENS_SECRET", value_parser = parse_name)]
    pub secret: Option<String>,
    /// Write the tokens to this file (mode 0600, one `tier,token` per line: what
    /// `redline http-load` and `redline target --tokens-file` read).
    #[arg(long, short = 'o', env = "REDLINE_TOKENS_OUTPUT")]
    pub output: Option<PathBuf>,
    /// ServiceAccounts created at once. 1 measures each creation alone, as the plan's
    /// script did; more finishes sooner and loads the API server harder.
    #[arg(long, env = "REDLINE_TOKENS_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LimitsArgs {
    /// Namespace of the policies (default: the kubeconfig's), e.g. openshift-ingress.
    #[arg(long, short = 'n', env = "REDLINE_LIMITS_NAMESPACE")]
    pub namespace: Option<String>,
    /// KIND/NAME:LIMIT=VALUE[/WINDOW] (repeatable): the first rate of the policy's limit
    /// LIMIT becomes VALUE (and WINDOW) for the run, e.g.
    /// `ratelimitpolicy/gateway-rate-limits:free=10000`,
    /// `tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000`.
    #[arg(
        long = "raise",
        env = "REDLINE_LIMITS_RAISE",
        value_delimiter = ',',
        value_parser = crate::limits::parse_raise,
        required_unless_present = "restore"
    )]
    pub raises: Vec<crate::limits::Raise>,
    /// Hold the raise this long, then restore (default: until the command after `--`
    /// exits, or until SIGTERM/SIGINT).
    #[arg(long, env = "REDLINE_LIMITS_DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// KIND/NAME (repeatable): only restore the originals a run that could not restore
    /// left in the policy's annotation (it was SIGKILLed, its node was lost).
    #[arg(
        long = "restore",
        value_delimiter = ',',
        value_parser = crate::limits::parse_policy,
        conflicts_with_all = ["raises", "duration", "command"]
    )]
    pub restore: Vec<crate::limits::PolicyRef>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// The run: started once the limits are raised; they are restored when it exits, and
    /// a SIGTERM/SIGINT is passed on to it before they are.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub set: SetArgs,
    /// Also remove this tokens file, if it exists.
    #[arg(long, short = 'o', env = "REDLINE_TOKENS_OUTPUT")]
    pub output: Option<PathBuf>,
}

/// `free` (count from --count) or `free=30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSpec {
    pub name: String,
    pub count: Option<u32>,
}

impl CreateArgs {
    /// (tier, count) in the order given, a tier named twice adding up.
    pub fn tier_counts(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = Vec::new();
        for t in &self.tiers {
            let n = t.count.unwrap_or(self.count);
            match out.iter_mut().find(|(name, _)| *name == t.name) {
                Some((_, c)) => *c += n,
                None => out.push((t.name.clone(), n)),
            }
        }
        out
    }
}

/// Lowercase letters, digits and '-', starting and ending alphanumeric: valid in a
/// ServiceAccount name, a label value and http-load's tier column alike.
pub fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?}: use 1-40 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

fn parse_tier(s: &str) -> Result<TierSpec, String> {
    let (name, count) = match s.split_once('=') {
        Some((n, c)) => {
            let c = c
                .trim()
                .parse::<u32>()
                .map_err(|e| format!("{s:?}: count {c:?}: {e}"))?;
            (n.trim(), Some(c))
        }
        None => (s.trim(), None),
    };
    Ok(TierSpec {
        name: parse_name(name)?,
        count,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TokensArgs,
    }

    fn create(argv: &[&str]) -> CreateArgs {
        let mut full = vec!["tokens", "create"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().args.command {
            TokensCommand::Create(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tiers_with_and_without_counts_add_up() {
        let c = create(&[
            "--count",
            "5",
            "--tier",
            "free",
            "--tier",
            "premium=2,free=1",
        ]);
        assert_eq!(
            c.tier_counts(),
            [("free".to_string(), 6), ("premium".to_string(), 2)]
        );
        assert_eq!(c.expiry, Duration::from_secs(4 * 3600));
        let d = create(&[]);
        assert_eq!(d.tier_counts(), [("free".to_string(), 10)]);
    }

    #[test]
    fn bad_names_are_refused_with_the_rule() {
        for bad in ["Free", "a_b", "-x", "x=", "x=-1", ""] {
            let e = Cli::try_parse_from([
                "tokens".to_string(),
                "create".into(),
                format!("--tier={bad}"),
            ])
            .err()
            .unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert!(e.to_string().contains("--tier"), "{e}");
        }
        let e = Cli::try_parse_from(["tokens", "status", "--set", "My.Set"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("lowercase"), "{e}");
    }

    #[test]
    fn only_create_carries_the_runtime_flags() {
        let c = Cli::try_parse_from(["tokens", "cleanup", "--set", "maas", "-n", "ns1"]).unwrap();
        assert!(c.args.common().is_none());
        let c = Cli::try_parse_from(["tokens", "create", "--testid", "t1"]).unwrap();
        assert_eq!(c.args.common().unwrap().testid.as_deref(), Some("t1"));
    }
}
