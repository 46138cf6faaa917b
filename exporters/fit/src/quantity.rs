//! Kubernetes resource quantities: CPU in millicores, memory in bytes.

/// A quantity's value in base units (cores, bytes): the runtime's parser, which
/// pprof-sampler reads pod metrics with too.
pub use redline_runtime::parse_quantity as parse;

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
