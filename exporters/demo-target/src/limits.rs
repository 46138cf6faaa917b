//! Bearer tokens mapped to tiers, and per-token fixed-window limits on requests and on
//! completion tokens, like the MaaS gateway (Authorino + Limitador) the MaaS plan measures.
//!
//! Windows open at a token's first request and reset when they elapse, the way Limitador's
//! counters expire. The token budget is checked before a request and charged with the
//! request's usage, so the last admitted request may overshoot it (as with Kuadrant's
//! TokenRateLimitPolicy, which only learns usage from the response).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderValue;
use serde::Deserialize;

use crate::error::TargetError;

/// Limits of one tier. A limit left out is unlimited.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TierLimits {
    /// Requests per `request_window`.
    #[serde(default)]
    pub requests: Option<u64>,
    #[serde(
        default = "two_minutes",
        with = "humantime_serde",
        alias = "request_window"
    )]
    pub request_window: Duration,
    /// Total (prompt + completion) tokens per `token_window`.
    #[serde(default)]
    pub tokens: Option<u64>,
    #[serde(
        default = "one_minute",
        with = "humantime_serde",
        alias = "token_window"
    )]
    pub token_window: Duration,
    /// Tokens starting with this prefix belong to the tier even when no tokens file lists them.
    #[serde(default, alias = "token_prefix")]
    pub token_prefix: Option<String>,
}

fn two_minutes() -> Duration {
    Duration::from_secs(120)
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}

/// The `--tiers` document: `tiers: {name: TierLimits}`, in YAML or JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersConfig {
    pub tiers: BTreeMap<String, TierLimits>,
}

impl Default for TiersConfig {
    /// The MaaS plan's production limits, with `<tier>-` token prefixes so a quickstart works
    /// without a tokens file.
    fn default() -> Self {
        let tier = |requests, tokens, prefix: &str| TierLimits {
            requests: Some(requests),
            request_window: two_minutes(),
            tokens: Some(tokens),
            token_window: one_minute(),
            token_prefix: Some(prefix.to_owned()),
        };
        Self {
            tiers: BTreeMap::from([
                ("free".to_owned(), tier(5, 100, "free-")),
                ("premium".to_owned(), tier(20, 50_000, "premium-")),
                ("enterprise".to_owned(), tier(50, 100_000, "enterprise-")),
            ]),
        }
    }
}

impl TiersConfig {
    /// YAML is a superset of JSON, so one parser reads both.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    pub fn from_file(path: &Path) -> Result<Self, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| TargetError::Tiers {
            path: path.to_owned(),
            message,
        })
    }
}

/// Who sent a request, as far as limits are concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Caller<'r> {
    /// No token, or one that maps to no tier, while auth is optional: never limited.
    Anonymous,
    Tier {
        token: &'r str,
        tier: usize,
    },
}

#[derive(Debug, PartialEq)]
pub(crate) enum Denied {
    Unauthorized,
    Limited { retry_after: Duration },
}

#[derive(Debug)]
struct Usage {
    requests: u64,
    requests_since: Instant,
    tokens: u64,
    tokens_since: Instant,
}

pub(crate) struct Limiter {
    tiers: Vec<TierLimits>,
    tokens: HashMap<String, usize>,
    /// Longest prefix first, so the most specific rule wins.
    prefixes: Vec<(String, usize)>,
    require_auth: bool,
    usage: Mutex<HashMap<String, Usage>>,
}

impl Limiter {
    pub(crate) fn new(
        config: TiersConfig,
        tokens_file: Option<&Path>,
        require_auth: bool,
    ) -> Result<Self, TargetError> {
        let names: Vec<String> = config.tiers.keys().cloned().collect();
        let tiers: Vec<TierLimits> = config.tiers.into_values().collect();
        let mut prefixes: Vec<(String, usize)> = tiers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.token_prefix
                    .clone()
                    .filter(|p| !p.is_empty())
                    .map(|p| (p, i))
            })
            .collect();
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let tokens = match tokens_file {
            None => HashMap::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                parse_tokens(&text, &names).map_err(|(line, message)| TargetError::Tokens {
                    path: path.to_owned(),
                    line,
                    message,
                })?
            }
        };
        Ok(Self {
            tiers,
            tokens,
            prefixes,
            require_auth,
            usage: Mutex::new(HashMap::new()),
        })
    }

    /// Resolves the caller from the `Authorization` header.
    pub(crate) fn identify<'r>(
        &self,
        authorization: Option<&'r HeaderValue>,
    ) -> Result<Caller<'r>, Denied> {
        let token = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        let tier = token.and_then(|t| {
            self.tokens.get(t).copied().or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| t.starts_with(p.as_str()))
                    .map(|&(_, i)| i)
            })
        });
        match (token, tier) {
            (Some(token), Some(tier)) => Ok(Caller::Tier { token, tier }),
            _ if self.require_auth => Err(Denied::Unauthorized),
            _ => Ok(Caller::Anonymous),
        }
    }

    /// Counts one request costing `tokens` against the caller's windows, or says how long
    /// to wait when a window is already spent.
    pub(crate) fn admit(
        &self,
        caller: Caller<'_>,
        tokens: u64,
        now: Instant,
    ) -> Result<(), Denied> {
        let Caller::Tier { token, tier } = caller else {
            return Ok(());
        };
        let limits = &self.tiers[tier];
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let u = match usage.get_mut(token) {
            Some(u) => u,
            None => usage.entry(token.to_owned()).or_insert(Usage {
                requests: 0,
                requests_since: now,
                tokens: 0,
                tokens_since: now,
            }),
        };
        if now.saturating_duration_since(u.requests_since) >= limits.request_window {
            u.requests = 0;
            u.requests_since = now;
        }
        if now.saturating_duration_since(u.tokens_since) >= limits.token_window {
            u.tokens = 0;
            u.tokens_since = now;
        }
        let wait = |since: Instant, window: Duration| {
            window.saturating_sub(now.saturating_duration_since(since))
        };
        if limits.requests.is_some_and(|max| u.requests >= max) {
            return Err(Denied::Limited {
                retry_after: wait(u.requests_since, limits.request_window),
            });
        }
        if limits.tokens.is_some_and(|max| u.tokens >= max) {
            return Err(Denied::Limited {
                retry_after: wait(u.tokens_since, limits.token_window),
            });
        }
        u.requests += 1;
        u.tokens = u.tokens.saturating_add(tokens);
        Ok(())
    }
}

/// `tier,token` per line; blank lines and `#` comments are skipped. Errors carry the line
/// number only, never the line, since it holds a secret.
fn parse_tokens(text: &str, tiers: &[String]) -> Result<HashMap<String, usize>, (usize, String)> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tier, token) = line
            .split_once(',')
            .ok_or((n + 1, "want `tier,token`".to_owned()))?;
        let (tier, token) = (tier.trim(), token.trim());
        if token.is_empty() {
            return Err((n + 1, "empty token".to_owned()));
        }
        let i = tiers.iter().position(|t| t == tier).ok_or_else(|| {
            (
                n + 1,
                format!("unknown tier {tier:?} (known: {})", tiers.join(", ")),
            )
        })?;
        out.insert(token.to_owned(), i);
    }
    Ok(out)
}

/// Seconds for `Retry-After`: rounded up, and at least 1 so a client never retries at once.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_nanos().div_ceil(1_000_000_000).max(1);
    u64::try_from(secs).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(yaml: &str, tokens: &str, require_auth: bool) -> Limiter {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, tokens).unwrap();
        Limiter::new(TiersConfig::parse(yaml).unwrap(), Some(&path), require_auth).unwrap()
    }

    /// A limiter with the `tiers` given and one token, `t`, in the first of them (`free`);
    /// and `t` as the caller.
    fn token_t_in_free(tiers: &str) -> (Limiter, Caller<'static>) {
        let caller = Caller::Tier {
            token: "t",
            tier: 0,
        };
        (limiter(tiers, "free,t\n", true), caller)
    }

    fn bearer(t: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {t}")).unwrap()
    }

    #[test]
    fn tiers_parse_from_yaml_and_json() {
        let yaml = "tiers:\n  gold:\n    requests: 3\n    request-window: 10s\n    tokens: 1000\n    token_window: 1m\n    token-prefix: g-\n";
        let json = r#"{"tiers":{"gold":{"requests":3,"request-window":"10s","tokens":1000,"token-window":"1m","token-prefix":"g-"}}}"#;
        let a = TiersConfig::parse(yaml).unwrap();
        assert_eq!(a, TiersConfig::parse(json).unwrap());
        let gold = &a.tiers["gold"];
        assert_eq!(gold.request_window, Duration::from_secs(10));
        assert_eq!(gold.token_window, Duration::from_secs(60));
        assert!(TiersConfig::parse("tiers:\n  x:\n    requets: 1\n").is_err());
        assert_eq!(TiersConfig::default().tiers["free"].requests, Some(5));
    }

    #[test]
    fn tokens_file_maps_tokens_and_reports_line_numbers_only() {
        let tiers = vec!["free".to_owned(), "premium".to_owned()];
        let map = parse_tokens("# comment\n\nfree,abc\npremium, def \n", &tiers).unwrap();
        assert_eq!(map["abc"], 0);
        assert_eq!(map["def"], 1);
        let (line, msg) = parse_tokens("free,ok\ngold,secret-value\n", &tiers).unwrap_err();
        assert_eq!(line, 2);
        assert!(!msg.contains("secret-value"));
        assert_eq!(parse_tokens("no-comma-secret", &tiers).unwrap_err().0, 1);
    }

    #[test]
    fn identifies_by_file_then_prefix() {
        let l = limiter(
            "tiers:\n  free: {token-prefix: f-}\n  premium: {token-prefix: f-premium-}\n",
            "premium,listed\n",
            false,
        );
        let tier = |t: &str| match l.identify(Some(&bearer(t))).unwrap() {
            Caller::Tier { token, tier } => {
                assert_eq!(token, t);
                Some(tier)
            }
            Caller::Anonymous => None,
        };
        assert_eq!(tier("listed"), Some(1));
        assert_eq!(tier("f-x"), Some(0));
        assert_eq!(tier("f-premium-x"), Some(1));
        assert_eq!(tier("stranger"), None);
        assert_eq!(l.identify(None).unwrap(), Caller::Anonymous);

        let strict = limiter("tiers:\n  free: {}\n", "free,known\n", true);
        assert_eq!(strict.identify(None), Err(Denied::Unauthorized));
        assert_eq!(
            strict.identify(Some(&bearer("unknown"))),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            strict.identify(Some(&HeaderValue::from_static("Basic known"))),
            Err(Denied::Unauthorized)
        );
        assert!(
            strict
                .identify(Some(&HeaderValue::from_static("bearer known")))
                .is_ok()
        );
    }

    #[test]
    fn request_window_limits_and_resets() {
        let (l, caller) = token_t_in_free("tiers:\n  free: {requests: 2, request-window: 10s}\n");
        let t0 = Instant::now();
        assert_eq!(l.admit(caller, 0, t0), Ok(()));
        assert_eq!(l.admit(caller, 0, t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(
            l.admit(caller, 0, t0 + Duration::from_secs(4)),
            Err(Denied::Limited {
                retry_after: Duration::from_secs(6)
            })
        );
        // Another token has its own window.
        assert_eq!(
            l.admit(
                Caller::Tier {
                    token: "u",
                    tier: 0
                },
                0,
                t0
            ),
            Ok(())
        );
        assert_eq!(l.admit(caller, 0, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(l.admit(Caller::Anonymous, 0, t0), Ok(()));
    }

    #[test]
    fn token_budget_is_checked_before_and_charged_after() {
        let (l, caller) = token_t_in_free("tiers:\n  free: {tokens: 100, token-window: 1m}\n");
        let t0 = Instant::now();
        assert_eq!(l.admit(caller, 60, t0), Ok(()));
        assert_eq!(l.admit(caller, 60, t0), Ok(())); // 60 < 100: admitted, now at 120
        assert!(matches!(
            l.admit(caller, 1, t0),
            Err(Denied::Limited { .. })
        ));
        assert_eq!(l.admit(caller, 1, t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_secs(Duration::from_millis(6001)), 7);
    }
}
