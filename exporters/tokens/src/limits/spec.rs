//! `--raise KIND/NAME:LIMIT=VALUE[/WINDOW]` and `--restore KIND/NAME`: which Kuadrant
//! policy, which of its named limits, and the value its first rate takes during the run
//! (the seed's `kubectl patch ... /spec/limits/free/rates/0/limit`).

use std::fmt;

/// The two Kuadrant policy kinds whose limits a run raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    RateLimitPolicy,
    TokenRateLimitPolicy,
}

impl PolicyKind {
    /// The Kubernetes kind, as the API server's discovery names it.
    pub fn kind(self) -> &'static str {
        match self {
            PolicyKind::RateLimitPolicy => "RateLimitPolicy",
            PolicyKind::TokenRateLimitPolicy => "TokenRateLimitPolicy",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ratelimitpolicy" | "ratelimitpolicies" | "rlp" => Some(PolicyKind::RateLimitPolicy),
            "tokenratelimitpolicy" | "tokenratelimitpolicies" | "trlp" => {
                Some(PolicyKind::TokenRateLimitPolicy)
            }
            _ => None,
        }
    }
}

/// One policy, by kind and name (its namespace is the run's `--namespace`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRef {
    pub kind: PolicyKind,
    pub name: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.kind().to_ascii_lowercase(), self.name)
    }
}

/// One raise: `rates[0]` of `spec.limits.<limit>` becomes `value` (and `window`, if given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    pub policy: PolicyRef,
    pub limit: String,
    pub value: i64,
    pub window: Option<String>,
}

const RAISE_FORM: &str = "expected KIND/NAME:LIMIT=VALUE[/WINDOW], e.g. \
    ratelimitpolicy/gateway-rate-limits:free=10000 or \
    tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000/1m";

/// `ratelimitpolicy/gateway-rate-limits` (also `rlp/...`, `trlp/...`).
pub fn parse_policy(s: &str) -> Result<PolicyRef, String> {
    let (kind, name) = s.split_once('/').ok_or_else(|| {
        format!("{s:?}: expected KIND/NAME, e.g. ratelimitpolicy/gateway-rate-limits")
    })?;
    let kind = PolicyKind::parse(kind.trim()).ok_or_else(|| {
        format!("{s:?}: kind {kind:?} is not ratelimitpolicy (rlp) or tokenratelimitpolicy (trlp)")
    })?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !valid {
        return Err(format!(
            "{s:?}: policy name {name:?} is not a Kubernetes object name"
        ));
    }
    Ok(PolicyRef {
        kind,
        name: name.to_string(),
    })
}

pub fn parse_raise(s: &str) -> Result<Raise, String> {
    let (policy, setting) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: {RAISE_FORM}"))?;
    let policy = parse_policy(policy)?;
    let (limit, value) = setting
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: {RAISE_FORM}"))?;
    let limit = limit.trim();
    if limit.is_empty() {
        return Err(format!("{s:?}: the limit name is empty; {RAISE_FORM}"));
    }
    let (value, window) = match value.split_once('/') {
        Some((v, w)) => (v.trim(), Some(w.trim().to_string())),
        None => (value.trim(), None),
    };
    let value: i64 = value.parse().map_err(|_| {
        format!("{s:?}: spec.limits.{limit}.rates[0].limit: {value:?} is not a whole number")
    })?;
    if value <= 0 {
        // Kuadrant's schema takes any integer, but a limit of 0 or less lets no request
        // through: never what a run that raises limits means.
        return Err(format!(
            "{s:?}: spec.limits.{limit}.rates[0].limit: {value} lets no request through; \
             a raised limit must be above 0"
        ));
    }
    if window.as_deref() == Some("") {
        return Err(format!(
            "{s:?}: spec.limits.{limit}.rates[0].window is empty after '/'"
        ));
    }
    Ok(Raise {
        policy,
        limit: limit.to_string(),
        value,
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_raises_parse() {
        let r = parse_raise("ratelimitpolicy/gateway-rate-limits:free=10000").unwrap();
        assert_eq!(r.policy.kind, PolicyKind::RateLimitPolicy);
        assert_eq!(r.policy.name, "gateway-rate-limits");
        assert_eq!((r.limit.as_str(), r.value, r.window), ("free", 10000, None));
        let t = parse_raise("trlp/gateway-token-rate-limits:free-user-tokens=10000000/1m").unwrap();
        assert_eq!(t.policy.kind, PolicyKind::TokenRateLimitPolicy);
        assert_eq!(t.window.as_deref(), Some("1m"));
        assert_eq!(
            t.policy.to_string(),
            "tokenratelimitpolicy/gateway-token-rate-limits"
        );
    }

    #[test]
    fn bad_raises_name_the_field() {
        let e = parse_raise("rlp/x:free=lots").unwrap_err();
        assert!(e.contains("spec.limits.free.rates[0].limit"), "{e}");
        let e = parse_raise("rlp/x:free=0").unwrap_err();
        assert!(e.contains("spec.limits.free.rates[0].limit"), "{e}");
        let e = parse_raise("authpolicy/x:free=1").unwrap_err();
        assert!(e.contains("authpolicy"), "{e}");
        let e = parse_raise("rlp/X_Y:free=1").unwrap_err();
        assert!(e.contains("not a Kubernetes object name"), "{e}");
        assert!(
            parse_raise("rlp/x")
                .unwrap_err()
                .contains("KIND/NAME:LIMIT=VALUE")
        );
        assert!(parse_raise("rlp/x:free=5/").unwrap_err().contains("window"));
    }
}
