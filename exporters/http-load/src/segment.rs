//! `--segment i/n`: N pods (an Indexed Job) together run a scenario exactly once.
//! Integers (VUs, iterations) are split so the shares sum to the whole, remainders going to
//! the lowest indices; rates are divided exactly.

use std::str::FromStr;

/// Segment `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u64,
    pub count: u64,
}

impl Segment {
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    pub fn new(index: u64, count: u64) -> Result<Self, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "segment {index}/{count}: need 0 <= index < count (index is 0-based, like JOB_COMPLETION_INDEX)"
            ));
        }
        Ok(Self { index, count })
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// This segment's share of `total` whole units.
    pub fn share(self, total: u64) -> u64 {
        share_of(total, self.index, self.count)
    }

    /// This segment's share of a rate.
    pub fn share_rate(self, rate: f64) -> f64 {
        rate / self.count as f64
    }

    /// Shared iterations go only to segments that got at least one VU, so no pod holds
    /// iterations it has no VU to run; the VU-holding segments split them.
    pub fn share_iterations(self, iterations: u64, vus: u64) -> u64 {
        let active = vus.min(self.count);
        if self.index >= active {
            return 0;
        }
        share_of(iterations, self.index, active)
    }
}

fn share_of(total: u64, index: u64, count: u64) -> u64 {
    total / count + u64::from(index < total % count)
}

impl FromStr for Segment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("segment {s:?}: expected i/n, e.g. 0/4"))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| format!("segment {s:?}: {x:?} is not a whole number"))
        };
        Segment::new(parse(i)?, parse(n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_the_whole_for_awkward_numbers() {
        for count in [1u64, 2, 3, 7, 10, 13] {
            for total in [0u64, 1, 2, 5, 10, 99, 100, 1001, 12_345] {
                let shares: Vec<u64> = (0..count)
                    .map(|i| Segment::new(i, count).unwrap().share(total))
                    .collect();
                assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {count}");
                let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(max - min <= 1, "{shares:?}");
                // Remainders go to the lowest indices.
                assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
            }
        }
    }

    #[test]
    fn shared_iterations_follow_the_vus() {
        for count in [1u64, 3, 4, 7] {
            for (vus, iters) in [(1u64, 10u64), (2, 10), (3, 1000), (10, 10), (5, 7)] {
                let segs: Vec<Segment> = (0..count)
                    .map(|i| Segment::new(i, count).unwrap())
                    .collect();
                let v: u64 = segs.iter().map(|s| s.share(vus)).sum();
                let it: u64 = segs.iter().map(|s| s.share_iterations(iters, vus)).sum();
                assert_eq!((v, it), (vus, iters), "{vus} vus / {iters} it over {count}");
                for s in &segs {
                    if s.share(vus) == 0 {
                        assert_eq!(s.share_iterations(iters, vus), 0);
                    }
                }
            }
        }
    }

    #[test]
    fn rates_divide_exactly() {
        let total: f64 = (0..3)
            .map(|i| Segment::new(i, 3).unwrap().share_rate(100.0))
            .sum();
        assert!((total - 100.0).abs() < 1e-9);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            "2/5".parse::<Segment>().unwrap(),
            Segment { index: 2, count: 5 }
        );
        assert!("5/5".parse::<Segment>().is_err());
        assert!("1".parse::<Segment>().is_err());
        assert!("a/2".parse::<Segment>().is_err());
    }
}
