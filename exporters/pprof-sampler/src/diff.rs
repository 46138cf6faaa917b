//! `redline pprof diff A B`: what grew between two saved heap profiles, computed the way
//! `go tool pprof -top -diff_base A B` computes it (B minus A per function, rows ordered
//! by the absolute flat change, percentages of A's total) and printed as the same table.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::error::PprofError;
use crate::profile::{self, FunctionStat, Order, Parsed, Parser, ProfileError};

/// The sample type a heap diff looks at unless told otherwise: what is still live.
pub const DEFAULT_SAMPLE_TYPE: &str = "inuse_space";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    pub function: String,
    /// Change of the flat value, B minus A.
    pub flat: i64,
    /// Change of the cumulative value, B minus A.
    pub cum: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffTable {
    pub sample_type: String,
    pub unit: String,
    /// Total of A: pprof's percentages in diff mode are of the base.
    pub base_total: i64,
    pub new_total: i64,
    /// Largest absolute flat change first; at most `top` rows, unchanged functions left out.
    pub rows: Vec<DiffRow>,
}

impl DiffTable {
    pub fn growth(&self) -> i64 {
        self.new_total - self.base_total
    }
}

/// Reads two profiles (gzip'd or not) and diffs their `inuse_space`.
pub fn diff(a: &Path, b: &Path, top: usize) -> Result<DiffTable, PprofError> {
    diff_sample_type(a, b, top, DEFAULT_SAMPLE_TYPE)
}

pub fn diff_sample_type(
    a: &Path,
    b: &Path,
    top: usize,
    sample_type: &str,
) -> Result<DiffTable, PprofError> {
    let read = |p: &Path| -> Result<Vec<u8>, PprofError> {
        std::fs::read(p).map_err(|source| PprofError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let (bytes_a, bytes_b) = (read(a)?, read(b)?);
    let (mut parser_a, mut parser_b) = (Parser::new(), Parser::new());
    let in_file = |p: &Path| {
        let path = p.to_path_buf();
        move |source| PprofError::Profile { path, source }
    };
    let pa = parser_a.read(&bytes_a).map_err(in_file(a))?;
    let pb = parser_b.read(&bytes_b).map_err(in_file(b))?;
    diff_profiles(&pa, &pb, top, sample_type).map_err(in_file(b))
}

/// B minus A per function. Each profile is walked once: its totals and its functions
/// come out of the same pass.
pub fn diff_profiles(
    a: &Parsed<'_>,
    b: &Parsed<'_>,
    top: usize,
    sample_type: &str,
) -> Result<DiffTable, ProfileError> {
    let (totals_a, functions_a) = a.analyse(sample_type)?;
    let (totals_b, functions_b) = b.analyse(sample_type)?;
    let (ia, ib) = (a.sample_index(sample_type)?, b.sample_index(sample_type)?);
    let mut by_name: HashMap<String, (i64, i64)> = HashMap::new();
    for s in functions_a {
        let e = by_name.entry(s.name).or_default();
        e.0 -= s.flat;
        e.1 -= s.cum;
    }
    for s in functions_b {
        let e = by_name.entry(s.name).or_default();
        e.0 += s.flat;
        e.1 += s.cum;
    }
    let stats: Vec<FunctionStat> = by_name
        .into_iter()
        .filter(|(_, (flat, cum))| *flat != 0 || *cum != 0)
        .map(|(name, (flat, cum))| FunctionStat { name, flat, cum })
        .collect();
    let rows = profile::top(stats, top, Order::Flat)
        .into_iter()
        .map(|s| DiffRow {
            function: s.name,
            flat: s.flat,
            cum: s.cum,
        })
        .collect();
    Ok(DiffTable {
        sample_type: sample_type.to_string(),
        unit: totals_b[ib].unit.clone(),
        base_total: totals_a[ia].total,
        new_total: totals_b[ib].total,
        rows,
    })
}

/// Formats a value the way pprof does: bytes scaled by 1024 to B/kB/MB/GB/TB with at most
/// two decimals (trailing zeros dropped), everything else as a plain number.
pub fn format_value(v: i64, unit: &str) -> String {
    if unit != "bytes" {
        return v.to_string();
    }
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut x = v as f64;
    let mut u = 0;
    while x.abs() >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        return format!("{v}B");
    }
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", UNITS[u])
}

fn percent(v: i64, total: i64) -> String {
    if total == 0 {
        return "0%".into();
    }
    let p = v as f64 * 100.0 / total as f64;
    if p == 0.0 {
        "0%".into()
    } else if (p - 100.0).abs() < 0.005 {
        "100%".into()
    } else {
        format!("{p:.2}%")
    }
}

impl fmt::Display for DiffTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fv = |v| format_value(v, &self.unit);
        writeln!(f, "Type: {} (diff: new minus base)", self.sample_type)?;
        writeln!(
            f,
            "Base total {}, new total {}, change {}",
            fv(self.base_total),
            fv(self.new_total),
            fv(self.growth())
        )?;
        writeln!(
            f,
            "{:>10} {:>7} {:>7} {:>10} {:>7}  function",
            "flat", "flat%", "sum%", "cum", "cum%"
        )?;
        let mut sum = 0i64;
        for r in &self.rows {
            sum += r.flat;
            writeln!(
                f,
                "{:>10} {:>7} {:>7} {:>10} {:>7}  {}",
                fv(r.flat),
                percent(r.flat, self.base_total),
                percent(sum, self.base_total),
                fv(r.cum),
                percent(r.cum, self.base_total),
                r.function
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use crate::profile::fixtures::{sample, synthetic};

    /// [`diff_profiles`] of two built profiles, read the way files are.
    fn diff_of(a: &Profile, b: &Profile, top: usize) -> Result<DiffTable, ProfileError> {
        use prost::Message;
        let (ea, eb) = (a.encode_to_vec(), b.encode_to_vec());
        let (mut pa, mut pb) = (Parser::new(), Parser::new());
        diff_profiles(&pa.read(&ea)?, &pb.read(&eb)?, top, "inuse_space")
    }

    #[test]
    fn diff_is_b_minus_a_per_function_largest_change_first() {
        let a = synthetic();
        let mut b = synthetic();
        b.sample[0] = sample(&[10, 11], 40); // b shrinks by 60
        b.sample[1] = sample(&[12, 12, 12, 11], 1007); // c grows by 1000
        let t = diff_of(&a, &b, 10).unwrap();
        assert_eq!(t.base_total, 107);
        assert_eq!(t.new_total, 1047);
        let rows: Vec<(&str, i64, i64)> = t
            .rows
            .iter()
            .map(|r| (r.function.as_str(), r.flat, r.cum))
            .collect();
        assert_eq!(
            rows,
            [
                ("c", 1000, 1000),
                ("b", -60, -60),
                ("a", 0, -60),
                ("main", 0, 940)
            ]
        );
        let t2 = diff_of(&a, &b, 1).unwrap();
        assert_eq!(t2.rows.len(), 1);
        let same = diff_of(&a, &a, 10).unwrap();
        assert!(same.rows.is_empty(), "unchanged functions are left out");
    }

    #[test]
    fn values_format_like_pprof() {
        assert_eq!(format_value(4206285, "bytes"), "4.01MB");
        assert_eq!(format_value(526336, "bytes"), "514kB");
        assert_eq!(format_value(-2048, "bytes"), "-2kB");
        assert_eq!(format_value(512, "bytes"), "512B");
        assert_eq!(format_value(75179, "count"), "75179");
    }

    #[test]
    fn table_renders_header_and_rows() {
        let a = synthetic();
        let mut b = synthetic();
        b.sample[1] = sample(&[12, 12, 12, 11], 7 + 2048);
        let out = diff_of(&a, &b, 5).unwrap().to_string();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].contains("flat%") && lines[2].ends_with("function"));
        assert!(lines[3].ends_with("  c"), "{out}");
        assert!(lines[3].trim_start().starts_with("2kB"), "{out}");
        assert_eq!(lines.len(), 5, "c and main changed: {out}");
    }

    #[test]
    fn diff_reports_which_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pb.gz");
        std::fs::write(&bad, b"not a profile").unwrap();
        let missing = dir.path().join("missing.pb.gz");
        let err = diff(&missing, &bad, 5).unwrap_err();
        assert!(
            matches!(&err, PprofError::Read { path, .. } if *path == missing),
            "{err}"
        );
        let err = diff(&bad, &bad, 5).unwrap_err();
        assert!(
            matches!(&err, PprofError::Profile { path, .. } if *path == bad),
            "{err}"
        );
    }
}
