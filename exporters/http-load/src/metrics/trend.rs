//! k6's trend stats (`--trend-stats`, like `K6_PROMETHEUS_RW_TREND_STATS`): which figure of a
//! merged histogram a `k6_http_req_duration_<stat>` gauge carries.

use super::timed::Timed;

/// A k6 trend stat (`K6_PROMETHEUS_RW_TREND_STATS`): `p(95)`, `avg`, `min`, `max`, `med`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrendStat {
    Avg,
    Min,
    Max,
    Med,
    P(f64),
}

impl TrendStat {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "avg" => TrendStat::Avg,
            "min" => TrendStat::Min,
            "max" => TrendStat::Max,
            "med" => TrendStat::Med,
            p => {
                let inner = p
                    .strip_prefix("p(")
                    .and_then(|x| x.strip_suffix(')'))
                    .ok_or_else(|| format!("trend stat {p:?}: use avg, min, max, med or p(N)"))?;
                let q: f64 = inner
                    .parse()
                    .map_err(|_| format!("trend stat {p:?}: N must be a number"))?;
                if !(0.0..=100.0).contains(&q) {
                    return Err(format!("trend stat {p:?}: N must be within 0..100"));
                }
                TrendStat::P(q)
            }
        })
    }

    /// k6's series suffix: `p(99.9)` → `p999`.
    pub fn suffix(self) -> String {
        match self {
            TrendStat::Avg => "avg".into(),
            TrendStat::Min => "min".into(),
            TrendStat::Max => "max".into(),
            TrendStat::Med => "med".into(),
            TrendStat::P(q) => format!("p{}", format!("{q}").replace('.', "")),
        }
    }

    /// The value in seconds, from a merged µs histogram and its exact sum.
    pub fn value(self, t: &Timed) -> f64 {
        self.of(t) / 1e6
    }

    /// The value in the histogram's own unit (µs, or milli-units); 0 when it is empty.
    pub fn of(self, t: &Timed) -> f64 {
        let h = &t.hist;
        if h.is_empty() {
            return 0.0;
        }
        match self {
            TrendStat::Avg => t.sum_us as f64 / h.len() as f64,
            TrendStat::Min => h.min() as f64,
            TrendStat::Max => h.max() as f64,
            TrendStat::Med => h.value_at_quantile(0.5) as f64,
            TrendStat::P(q) => h.value_at_quantile(q / 100.0) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_stat_names_follow_k6() {
        assert_eq!(TrendStat::parse("p(99.9)").unwrap().suffix(), "p999");
        assert_eq!(TrendStat::parse("p(95)").unwrap().suffix(), "p95");
        assert_eq!(TrendStat::parse("avg").unwrap().suffix(), "avg");
        assert!(TrendStat::parse("p95").is_err());
    }
}
