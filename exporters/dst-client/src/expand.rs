//! Brace expansion of `--services`, as a shell does it:
//! `test-service-{1..10}.test-load.svc.cluster.local:8080`, `{a,b}`, `{01..10}` (zero
//! padded), `{10..1}` (descending), several groups (cartesian product, left to right),
//! nested groups, and commas outside braces separating patterns.

/// Why a pattern could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--services {pattern:?}: {message} (at byte {at})")]
pub struct ExpandError {
    pub pattern: String,
    pub at: usize,
    pub message: String,
}

/// Upper bound on the names one flag may expand to, so a typo cannot eat the memory.
pub const MAX_EXPANSION: usize = 1_000_000;

/// Expands every pattern in `input` (patterns separated by top-level commas).
pub fn expand(input: &str) -> Result<Vec<String>, ExpandError> {
    let err = |at: usize, message: &str| ExpandError {
        pattern: input.to_string(),
        at,
        message: message.to_string(),
    };
    let mut out = Vec::new();
    for (start, part) in split_top(input, 0).map_err(|at| err(at, "unbalanced braces"))? {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let v = expand_one(part, start, input)?;
        out.extend(v);
        if out.len() > MAX_EXPANSION {
            return Err(err(0, "expands to more than 1,000,000 names"));
        }
    }
    if out.is_empty() {
        return Err(err(0, "names no service"));
    }
    Ok(out)
}

/// Splits `s` at commas at brace depth 0; returns (offset, piece).
fn split_top(s: &str, base: usize) -> Result<Vec<(usize, &str)>, usize> {
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err(base + i);
                }
            }
            ',' if depth == 0 => {
                parts.push((base + start, &s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(base + s.len());
    }
    parts.push((base + start, &s[start..]));
    Ok(parts)
}

fn expand_one(s: &str, base: usize, whole: &str) -> Result<Vec<String>, ExpandError> {
    let err = |at: usize, message: String| ExpandError {
        pattern: whole.to_string(),
        at,
        message,
    };
    let Some(open) = s.find('{') else {
        return Ok(vec![s.to_string()]);
    };
    // The matching close brace of the first group.
    let mut depth = 0;
    let mut close = None;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(|| err(base + open, "unbalanced braces".into()))?;
    let (prefix, body, suffix) = (&s[..open], &s[open + 1..close], &s[close + 1..]);
    let alternatives: Vec<String> = if let Some(range) = range(body) {
        range.map_err(|m| err(base + open, m))?
    } else {
        let parts =
            split_top(body, base + open + 1).map_err(|at| err(at, "unbalanced braces".into()))?;
        if parts.len() < 2 {
            return Err(err(
                base + open,
                format!("{{{body}}} is neither a range {{a..b}} nor a list {{a,b}}"),
            ));
        }
        let mut v = Vec::new();
        for (at, p) in parts {
            v.extend(expand_one(p, at, whole)?);
        }
        v
    };
    let tails = expand_one(suffix, base + close + 1, whole)?;
    let mut out = Vec::with_capacity(alternatives.len() * tails.len());
    for a in &alternatives {
        for t in &tails {
            out.push(format!("{prefix}{a}{t}"));
            if out.len() > MAX_EXPANSION {
                return Err(err(base, "expands to more than 1,000,000 names".into()));
            }
        }
    }
    Ok(out)
}

/// `a..b` with integers: Some(list) or Some(error); None when `body` is not a range.
fn range(body: &str) -> Option<Result<Vec<String>, String>> {
    let (a, b) = body.split_once("..")?;
    let num = |s: &str| {
        !s.is_empty()
            && s.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit())
    };
    if !num(a) || !num(b) {
        return None;
    }
    let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) else {
        return Some(Err(format!("{{{body}}}: numbers out of range")));
    };
    if x.abs_diff(y) >= MAX_EXPANSION as u64 {
        return Some(Err(format!("{{{body}}} expands to too many names")));
    }
    let padded =
        |s: &str| s.trim_start_matches('-').len() > 1 && s.trim_start_matches('-').starts_with('0');
    let width = if padded(a) || padded(b) {
        a.len().max(b.len())
    } else {
        0
    };
    let fmt = |n: i64| format!("{n:0width$}");
    let v: Vec<String> = if x <= y {
        (x..=y).map(fmt).collect()
    } else {
        (y..=x).rev().map(fmt).collect()
    };
    Some(Ok(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ranges_lists_and_products() {
        assert_eq!(
            expand("test-service-{1..3}.test-load.svc.cluster.local:8080").unwrap(),
            [
                "test-service-1.test-load.svc.cluster.local:8080",
                "test-service-2.test-load.svc.cluster.local:8080",
                "test-service-3.test-load.svc.cluster.local:8080"
            ]
        );
        assert_eq!(expand("s{01..03}").unwrap(), ["s01", "s02", "s03"]);
        assert_eq!(expand("s{3..1}").unwrap(), ["s3", "s2", "s1"]);
        assert_eq!(
            expand("{a,b}-{1..2}").unwrap(),
            ["a-1", "a-2", "b-1", "b-2"]
        );
        assert_eq!(expand("x{a,b{1..2}}").unwrap(), ["xa", "xb1", "xb2"]);
        assert_eq!(expand("a:1,b{1..2}:2").unwrap(), ["a:1", "b1:2", "b2:2"]);
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        assert_eq!(expand("s-{1..10}").unwrap().len(), 10);
    }

    #[test]
    fn bad_patterns_say_where() {
        let e = expand("svc-{1..3").unwrap_err();
        assert!(e.to_string().contains("unbalanced"), "{e}");
        let e = expand("svc-{x}").unwrap_err();
        assert!(e.to_string().contains("neither a range"), "{e}");
        assert_eq!(e.at, 4);
        assert!(expand("a}").is_err());
        assert!(expand("").is_err());
        assert!(expand("{1..2000000}").is_err());
    }
}
