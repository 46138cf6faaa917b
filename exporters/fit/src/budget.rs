//! A budget: the CPU and memory of the machine the workload must fit, named so that it
//! can be a label (`budget="vps-6g-3cpu"`).
//!
//! Two spellings on the command line: `cpu=2,memory=4Gi[,name=vps-4g]` and the shorter
//! `vps-4g=2cpu,4Gi` (name first; the CPU may be written `2`, `2cpu` or `2000m`).

use std::str::FromStr;

use crate::quantity;

/// The seed's small VPS (vps-load-and-chaos-summary.md: "4-6GB RAM, 2-3 CPU"): what
/// `--budget` is when it is not given.
pub const SEED_BUDGETS: &str = "vps-4g-2cpu=2cpu,4Gi;vps-6g-3cpu=3cpu,6Gi";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    pub name: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

impl Budget {
    fn new(s: &str, name: String, cpu_millis: u64, memory_bytes: u64) -> Result<Self, String> {
        if cpu_millis == 0 || memory_bytes == 0 {
            return Err(format!("budget {s:?}: cpu and memory must be above zero"));
        }
        // The name becomes a label value and a table cell; the flag's own separators
        // would make it ambiguous.
        if name.is_empty() || name.chars().any(|c| c.is_control() || ",;=".contains(c)) {
            return Err(format!(
                "budget {s:?}: name {name:?} must be non-empty, without , ; = or control characters"
            ));
        }
        Ok(Self {
            name,
            cpu_millis,
            memory_bytes,
        })
    }

    /// `cpu=2,memory=4Gi[,name=small]`.
    fn from_keys(s: &str) -> Result<Self, String> {
        let (mut cpu, mut mem, mut name) = (None, None, None);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("budget {s:?}: {part:?} is not key=value"))?;
            match k.trim() {
                "cpu" => {
                    cpu = Some((
                        v.trim().to_string(),
                        quantity::cpu_millis(v).map_err(|e| format!("budget {s:?}: cpu: {e}"))?,
                    ))
                }
                "memory" | "mem" => {
                    mem = Some((
                        v.trim().to_string(),
                        quantity::bytes(v).map_err(|e| format!("budget {s:?}: memory: {e}"))?,
                    ))
                }
                "name" => name = Some(v.trim().to_string()),
                other => {
                    return Err(format!(
                        "budget {s:?}: unknown key {other:?} (cpu, memory, name)"
                    ));
                }
            }
        }
        let (Some((cpu_raw, cpu_millis)), Some((mem_raw, memory_bytes))) = (cpu, mem) else {
            return Err(format!("budget {s:?}: needs cpu= and memory="));
        };
        let name = name.unwrap_or_else(|| format!("{mem_raw}/{cpu_raw}cpu"));
        Self::new(s, name, cpu_millis, memory_bytes)
    }

    /// `vps-4g=2cpu,4Gi`.
    fn from_named(s: &str, name: &str, rest: &str) -> Result<Self, String> {
        let Some((cpu, mem)) = rest.split_once(',') else {
            return Err(format!(
                "budget {s:?}: expected NAME=CPU,MEMORY (e.g. vps-4g=2cpu,4Gi) or cpu=..,memory=..[,name=..]"
            ));
        };
        let cpu = cpu.trim();
        let cpu = cpu.strip_suffix("cpu").unwrap_or(cpu);
        let cpu_millis =
            quantity::cpu_millis(cpu).map_err(|e| format!("budget {s:?}: cpu: {e}"))?;
        let memory_bytes =
            quantity::bytes(mem).map_err(|e| format!("budget {s:?}: memory: {e}"))?;
        Self::new(s, name.trim().to_string(), cpu_millis, memory_bytes)
    }
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            None => Err(format!(
                "budget {s:?}: expected NAME=CPU,MEMORY (e.g. vps-4g=2cpu,4Gi) or cpu=..,memory=..[,name=..]"
            )),
            Some((first, rest)) if !matches!(first.trim(), "cpu" | "memory" | "mem" | "name") => {
                Self::from_named(s, first, rest)
            }
            Some(_) => Self::from_keys(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        let b: Budget = "cpu=2,memory=4Gi".parse().unwrap();
        assert_eq!(
            b,
            Budget {
                name: "4Gi/2cpu".into(),
                cpu_millis: 2000,
                memory_bytes: 4 << 30
            }
        );
        let b: Budget = "cpu=3, memory=6Gi, name=vps-6g".parse().unwrap();
        assert_eq!(b.name, "vps-6g");
        assert!("cpu=2".parse::<Budget>().is_err());
        assert!("cpu=2,memory=4Gi,disk=1".parse::<Budget>().is_err());
        assert!("cpu=0,memory=4Gi".parse::<Budget>().is_err());
    }

    #[test]
    fn named_budgets_parse_and_bad_ones_say_why() {
        let b: Budget = "vps-small=2cpu,4Gi".parse().unwrap();
        assert_eq!(
            b,
            Budget {
                name: "vps-small".into(),
                cpu_millis: 2000,
                memory_bytes: 4 << 30
            }
        );
        assert_eq!(
            "tiny=500m, 512Mi".parse::<Budget>().unwrap().cpu_millis,
            500
        );
        assert_eq!("x=2.5,6G".parse::<Budget>().unwrap().cpu_millis, 2500);
        for (bad, says) in [
            ("vps=2cpu", "NAME=CPU,MEMORY"),
            ("vps=lots,4Gi", "cpu"),
            ("vps=2,4Xi", "memory"),
            ("vps=0,4Gi", "above zero"),
            ("a;b=2,4Gi", "name"),
            ("bogus", "NAME=CPU,MEMORY"),
        ] {
            let err = bad.parse::<Budget>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_seed_defaults_are_its_small_vps() {
        let budgets: Vec<Budget> = SEED_BUDGETS
            .split(';')
            .map(|b| b.parse().unwrap())
            .collect();
        let got: Vec<(&str, u64, u64)> = budgets
            .iter()
            .map(|b| (b.name.as_str(), b.cpu_millis, b.memory_bytes))
            .collect();
        assert_eq!(
            got,
            [
                ("vps-4g-2cpu", 2000, 4 << 30),
                ("vps-6g-3cpu", 3000, 6 << 30)
            ]
        );
    }
}
