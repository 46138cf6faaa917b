//! Kubernetes resource quantities: CPU in millicores, memory in bytes.

/// A quantity's value in base units (cores, bytes): `500m`, `0.5`, `2`, `512Mi`, `1G`, `1e3`.
pub fn parse(s: &str) -> Result<f64, String> {
    let s = s.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Ei", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (num, mult) = SUFFIXES
        .iter()
        .find_map(|(suf, m)| s.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((s, 1.0));
    let valid = !num.is_empty()
        && num
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    let bad = || format!("{s:?} is not a Kubernetes quantity");
    if !valid {
        return Err(bad());
    }
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    Ok(v * mult)
}

pub fn cpu_millis(s: &str) -> Result<u64, String> {
    parse(s).map(|cores| (cores * 1000.0 - 1e-9).ceil().max(0.0) as u64)
}

pub fn bytes(s: &str) -> Result<u64, String> {
    parse(s).map(|b| (b - 1e-9).ceil().max(0.0) as u64)
}

pub fn fmt_cpu(millis: u64) -> String {
    format!("{millis}m")
}

pub fn fmt_mem(bytes: u64) -> String {
    const MI: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MI) {
        format!("{}Mi", bytes / MI)
    } else {
        format!("{:.1}Mi", bytes as f64 / MI as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("500m").unwrap(), 500);
        assert_eq!(cpu_millis("0.25").unwrap(), 250);
        assert_eq!(cpu_millis("2").unwrap(), 2000);
        assert_eq!(
            cpu_millis("100u").unwrap(),
            1,
            "rounded up, as the scheduler does"
        );
        assert_eq!(bytes("512Mi").unwrap(), 512 * 1024 * 1024);
        assert_eq!(bytes("1Gi").unwrap(), 1 << 30);
        assert_eq!(bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(bytes("1e3").unwrap(), 1000);
        assert_eq!(bytes("128974848").unwrap(), 128_974_848);
        for bad in ["", "abc", "5 Mi", "-1", "1Xi", "Mi"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(fmt_mem(4608 * 1024 * 1024), "4608Mi");
        assert_eq!(fmt_cpu(3350), "3350m");
    }
}
