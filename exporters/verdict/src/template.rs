//! Prometheus' annotation templates, rendered as Prometheus renders them: `{{ $labels.x }}`
//! and `{{ $value }}` with the pipelines alerts/ uses (`humanize`, `humanize1024`,
//! `humanizePercentage`, `humanizeDuration`, `printf "%.Nf"`), with Go's `%.4g` number
//! format, so the verdict's alert texts read as Alertmanager's would, numbers included.

use std::collections::BTreeMap;

/// Renders `template` with the alert's labels and the value its expression had.
/// Without a value, `{{ $value … }}` becomes "?" (never a raw template).
pub fn render(template: &str, labels: &BTreeMap<String, String>, value: Option<f64>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = rest[open + 2..open + close].trim();
        if let Some(key) = inner.strip_prefix("$labels.") {
            let key = key.split_whitespace().next().unwrap_or("");
            out.push_str(labels.get(key).map(String::as_str).unwrap_or(""));
        } else if let Some(pipe) = inner.strip_prefix("$value") {
            match value {
                Some(v) => out.push_str(&apply(v, pipe)),
                None => out.push('?'),
            }
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// `$value` through its pipeline (`| humanizeDuration`, `| printf "%.2f"`).
fn apply(v: f64, pipe: &str) -> String {
    let f = pipe.trim().trim_start_matches('|').trim();
    match f.split_whitespace().next().unwrap_or("") {
        "" => go_float(v),
        "humanize" => humanize(v),
        "humanize1024" => humanize1024(v),
        "humanizePercentage" => format!("{}%", g4(v * 100.0)),
        "humanizeDuration" => humanize_duration(v),
        "printf" => printf(f.trim_start_matches("printf").trim(), v),
        _ => go_float(v),
    }
}

/// `printf "%.Nf"` / `"%d"` / `"%g"`; anything else prints the value as Go's `%v` would.
fn printf(fmt: &str, v: f64) -> String {
    let fmt = fmt.trim_matches('"');
    let Some(at) = fmt.find('%') else {
        return fmt.to_string();
    };
    let (pre, spec) = (&fmt[..at], &fmt[at + 1..]);
    let end = spec
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(spec.len());
    let (prec, verb, post) = (
        &spec[..end],
        spec.get(end..end + 1).unwrap_or(""),
        spec.get(end + 1..).unwrap_or(""),
    );
    let digits: usize = prec.trim_start_matches('.').parse().unwrap_or(6);
    let body = match verb {
        "f" => format!("{v:.digits$}"),
        "d" => format!("{}", v as i64),
        _ => go_float(v),
    };
    format!("{pre}{body}{post}")
}

/// Go's `%v` of a float64: the shortest representation, exponent form below 1e-4 and from
/// 1e6 (`1e+06`).
fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        return go_exp(&format!("{v:e}"));
    }
    format!("{v}")
}

/// Rust's `1.5e-5` as Go writes it: `1.5e-05`.
fn go_exp(s: &str) -> String {
    let Some((m, e)) = s.split_once('e') else {
        return s.to_string();
    };
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e),
    };
    format!("{m}e{sign}{digits:0>2}")
}

/// Go's `%.4g`: 4 significant digits, trailing zeros dropped, exponent form when the
/// exponent is below -4 or at least 4.
pub fn g4(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    // The exponent after rounding to 4 digits (9999.5 → 1e+04).
    let e = format!("{v:.3e}");
    let (mant, exp) = e.split_once('e').expect("e format");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..4).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let decimals = (3 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits.
fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let prefix;
    if v.abs() >= 1.0 {
        (v, prefix) = above_one(v, 1000.0, ["k", "M", "G", "T", "P", "E", "Z", "Y"]);
    } else {
        (v, prefix) = below_one(v);
    }
    format!("{}{prefix}", g4(v))
}

/// Scales a magnitude of at least 1 down by `base` while it reaches `base`, with the
/// prefix that undoes it (decimal for `humanize`, binary for `humanize1024`).
fn above_one(mut v: f64, base: f64, prefixes: [&'static str; 8]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// Scales a magnitude below 1 up by thousands, with the SI prefix that undoes it
/// (`humanize` and `humanizeDuration` share it, as in Prometheus).
fn below_one(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// Prometheus' `humanize1024`: binary prefixes above 1.
fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let (v, prefix) = above_one(v, 1024.0, ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]);
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanizeDuration`: `1d 2h 3m 4s` from a minute up, `12.35s`, `250ms`.
fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return "0s".into();
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let (v, prefix) = below_one(v);
    format!("{}{prefix}s", g4(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [("testid", "t1"), ("scenario", "burst"), ("step", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn go_number_formats() {
        for (v, want) in [
            (0.1234567, "0.1235"),
            (12345.0, "1.234e+04"),
            (9999.5, "1e+04"),
            (100.0, "100"),
            (0.00001234, "1.234e-05"),
            (1.5, "1.5"),
            (-2.0, "-2"),
        ] {
            assert_eq!(g4(v), want, "{v}");
        }
        assert_eq!(go_float(0.25), "0.25");
        assert_eq!(go_float(3.0), "3");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(1e6), "1e+06");
    }

    #[test]
    fn pipelines_render_as_prometheus_does() {
        let l = labels();
        let r = |t: &str, v: f64| render(t, &l, Some(v));
        assert_eq!(r("{{ $value | humanizePercentage }}", 0.0126), "1.26%");
        assert_eq!(r("{{ $value | humanizeDuration }}", 2.4), "2.4s");
        assert_eq!(r("{{ $value | humanizeDuration }}", 0.25), "250ms");
        assert_eq!(r("{{ $value | humanizeDuration }}", 125.0), "2m 5s");
        assert_eq!(r("{{ $value | humanize }}", 78164.0), "78.16k");
        assert_eq!(r("{{ $value | humanize1024 }}", 2048.0), "2ki");
        assert_eq!(r("{{ $value | printf \"%.2f\" }}x", 1.234), "1.23x");
        assert_eq!(r("{{ $value }} streams", 3.0), "3 streams");
        assert_eq!(
            r(
                "{{ $labels.testid }} {{ $labels.scenario }}/{{ $labels.step }}: p95 {{ $value | humanizeDuration }} is high.",
                2.4
            ),
            "t1 burst/2: p95 2.4s is high."
        );
        assert_eq!(render("{{ $value }}", &l, None), "?");
        assert_eq!(
            render("broken {{ $labels.x", &l, None),
            "broken {{ $labels.x"
        );
    }
}
