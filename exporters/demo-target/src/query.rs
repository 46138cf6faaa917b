//! Query strings here only carry numbers and durations, so no percent-decoding is needed:
//! a value that would need it is invalid anyway and gets a 400 from its parser.

use std::time::Duration;

/// The value of the first `name=value` pair; `Some("")` for a bare `name`.
pub(crate) fn get<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A Go `time.Duration` string ("100ms", "1.5s", "1m30s", "250us"), as autoscale-go accepts.
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    (total.is_finite() && total < u64::MAX as f64).then(|| Duration::from_nanos(total as u64))
}

/// Milliseconds as a bare integer, or a Go duration: what autoscale-go's `sleep` takes.
pub(crate) fn parse_millis_or_duration(s: &str) -> Option<Duration> {
    match s.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => parse_go_duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_pair() {
        let q = Some("sleep=100&status=503&p=0.5&flag&sleep=7");
        assert_eq!(get(q, "sleep"), Some("100"));
        assert_eq!(get(q, "p"), Some("0.5"));
        assert_eq!(get(q, "flag"), Some(""));
        assert_eq!(get(q, "prime"), None);
        assert_eq!(get(None, "sleep"), None);
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("100ms"), Some(ms(100)));
        assert_eq!(parse_go_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_go_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_go_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "100", "10x", "ms", "1..2s", "-5ms"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_millis_or_duration("250"), Some(ms(250)));
        assert_eq!(parse_millis_or_duration("2s"), Some(ms(2000)));
    }
}
