//! What daemons read of the pod metrics API (`metrics.k8s.io/v1beta1` PodMetrics, what
//! `kubectl top pod` reads): each container's usage as quantities, and the quantity
//! parser. Shared by fit (usage against a budget) and pprof-sampler (usage next to heap
//! profiles) so both read the same objects the same way. k8s-openapi has no types for
//! the metrics API and this crate knows no Kubernetes client: a daemon lists the objects
//! with its own client and deserializes their data into [`PodMetricsBody`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `containers` part of a PodMetrics object; the rest is left alone.
#[derive(Debug, Deserialize)]
pub struct PodMetricsBody {
    #[serde(default)]
    pub containers: Vec<ContainerUsage>,
}

/// One container's usage: resource name (`cpu`, `memory`) to quantity.
#[derive(Debug, Deserialize)]
pub struct ContainerUsage {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// A Kubernetes resource quantity's value in base units (cores, bytes): `500m`, `0.5`,
/// `2`, `12345678n`, `512Mi`, `1G`, `1e3`. Negative and malformed quantities are errors.
pub fn parse_quantity(s: &str) -> Result<f64, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_base_units() {
        let close = |q: &str, want: f64| {
            let got = parse_quantity(q).unwrap();
            assert!(
                (got - want).abs() <= want.abs() * 1e-12,
                "{q}: {got} != {want}"
            );
        };
        close("12345678n", 0.012345678);
        close("250m", 0.25);
        close("100u", 1e-4);
        close("2", 2.0);
        close("1.5", 1.5);
        close("31840Ki", 31840.0 * 1024.0);
        close("128Mi", 128.0 * 1048576.0);
        close("1Gi", 1073741824.0);
        close("1G", 1e9);
        close("1e3", 1000.0);
        close("5E-2", 0.05);
        for bad in ["", "abc", "12x", "5 Mi", "-1", "1Xi", "Mi"] {
            assert!(parse_quantity(bad).is_err(), "{bad:?}");
        }
    }
}
