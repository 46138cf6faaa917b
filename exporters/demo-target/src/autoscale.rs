//! Knative's autoscale-go test image: `sleep`, `sleep-stddev`, `prime` and `bloat` consume
//! time, CPU and memory concurrently, and the reply says what was done, line by line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Semaphore;

use crate::query;

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Work {
    pub sleep: Option<Duration>,
    pub sleep_stddev: Option<Duration>,
    pub prime: Option<u64>,
    pub bloat_mb: Option<u32>,
}

impl Work {
    pub(crate) fn parse(
        q: Option<&str>,
        max_prime: u64,
        max_bloat_mb: u32,
    ) -> Result<Work, String> {
        let mut work = Work::default();
        if let Some(v) = query::get(q, "sleep") {
            work.sleep = Some(query::parse_millis_or_duration(v).ok_or_else(|| {
                format!("invalid sleep {v:?}: want milliseconds or a duration like 100ms")
            })?);
        }
        if let Some(v) = query::get(q, "sleep-stddev") {
            if work.sleep.is_none() {
                return Err("sleep-stddev needs sleep".to_owned());
            }
            work.sleep_stddev = Some(
                query::parse_millis_or_duration(v)
                    .ok_or_else(|| format!("invalid sleep-stddev {v:?}: want milliseconds"))?,
            );
        }
        if let Some(v) = query::get(q, "prime") {
            let n: u64 = v.parse().map_err(|_| format!("invalid prime {v:?}"))?;
            if n > max_prime {
                return Err(format!("prime {n} above the limit {max_prime}"));
            }
            work.prime = Some(n);
        }
        if let Some(v) = query::get(q, "bloat") {
            let mb: u32 = v.parse().map_err(|_| format!("invalid bloat {v:?}"))?;
            if mb > max_bloat_mb {
                return Err(format!("bloat {mb} MB above the limit {max_bloat_mb} MB"));
            }
            work.bloat_mb = Some(mb);
        }
        Ok(work)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sleep.is_none() && self.prime.is_none() && self.bloat_mb.is_none()
    }
}

pub(crate) struct Autoscale {
    /// MB that concurrent `bloat` requests may hold at once.
    bloat_budget: Arc<Semaphore>,
}

impl Autoscale {
    pub(crate) fn new(max_bloat_mb: u32) -> Self {
        Self {
            bloat_budget: Arc::new(Semaphore::new(max_bloat_mb as usize)),
        }
    }

    /// Runs the three kinds of work in parallel, as autoscale-go does, so a request's latency
    /// is the slowest of them rather than their sum.
    pub(crate) async fn run(&self, work: &Work) -> String {
        let sleep = async {
            match work.sleep {
                Some(mean) => Some(sleep_for(mean, work.sleep_stddev).await),
                None => None,
            }
        };
        let prime = async {
            let n = work.prime?;
            Some(
                tokio::task::spawn_blocking(move || prime_reply(n))
                    .await
                    .unwrap_or_else(|e| format!("prime failed: {e}\n")),
            )
        };
        let bloat = async {
            let mb = work.bloat_mb?;
            // Acquire fails only once the semaphore is closed, which never happens.
            let permit = self.bloat_budget.clone().acquire_many_owned(mb).await.ok();
            let reply = tokio::task::spawn_blocking(move || bloat_reply(mb))
                .await
                .unwrap_or_else(|e| format!("bloat failed: {e}\n"));
            drop(permit);
            Some(reply)
        };
        let (b, p, s) = tokio::join!(bloat, prime, sleep);
        [b, p, s].into_iter().flatten().collect()
    }
}

async fn sleep_for(mean: Duration, stddev: Option<Duration>) -> String {
    let start = Instant::now();
    let target = match stddev {
        Some(sd) if !sd.is_zero() => {
            let ms = normal(
                &mut rand::rng(),
                mean.as_secs_f64() * 1e3,
                sd.as_secs_f64() * 1e3,
            );
            Duration::from_secs_f64(ms.max(0.0) / 1e3)
        }
        _ => mean,
    };
    tokio::time::sleep_until((start + target).into()).await;
    format!(
        "Slept for {:.2} milliseconds.\n",
        start.elapsed().as_secs_f64() * 1e3
    )
}

/// One normal sample (Box–Muller), to avoid a distribution crate for a single use.
pub(crate) fn normal(rng: &mut impl Rng, mean: f64, stddev: f64) -> f64 {
    // 1 - u keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    mean + stddev * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn prime_reply(n: u64) -> String {
    match largest_prime_below(n) {
        Some(p) => format!("The largest prime less than {n} is {p}.\n"),
        None => format!("There are no primes smaller than {n}.\n"),
    }
}

/// A full sieve, not a clever search: the point is to burn CPU in proportion to `n`.
pub(crate) fn largest_prime_below(n: u64) -> Option<u64> {
    let n = n as usize;
    if n < 3 {
        return None;
    }
    let mut composite = vec![false; n];
    let mut i = 2;
    while i * i < n {
        if !composite[i] {
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
        i += 1;
    }
    (2..n).rev().find(|&k| !composite[k]).map(|k| k as u64)
}

fn bloat_reply(mb: u32) -> String {
    let len = mb as usize * 1024 * 1024;
    let mut block = vec![0u8; len];
    // Fresh allocations are lazily mapped; writing one byte per page makes them resident,
    // which is what a memory-based autoscaler has to see.
    for i in (0..len).step_by(4096) {
        block[i] = 1;
    }
    std::hint::black_box(&block);
    format!("Allocated {mb} Mb of memory.\n")
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn parses_like_autoscale_go() {
        let w = Work::parse(
            Some("sleep=100&sleep-stddev=10&prime=1000&bloat=5"),
            10_000,
            10,
        )
        .unwrap();
        assert_eq!(w.sleep, Some(Duration::from_millis(100)));
        assert_eq!(w.sleep_stddev, Some(Duration::from_millis(10)));
        assert_eq!(w.prime, Some(1000));
        assert_eq!(w.bloat_mb, Some(5));
        assert_eq!(
            Work::parse(Some("sleep=1.5s"), 1, 1).unwrap().sleep,
            Some(Duration::from_millis(1500))
        );
        assert!(Work::parse(None, 1, 1).unwrap().is_empty());
        for bad in [
            "sleep=abc",
            "sleep-stddev=5",
            "prime=-1",
            "prime=20000",
            "bloat=11",
            "bloat=x",
        ] {
            assert!(Work::parse(Some(bad), 10_000, 10).is_err(), "{bad}");
        }
    }

    #[test]
    fn primes() {
        assert_eq!(largest_prime_below(0), None);
        assert_eq!(largest_prime_below(2), None);
        assert_eq!(largest_prime_below(3), Some(2));
        assert_eq!(largest_prime_below(10), Some(7));
        assert_eq!(largest_prime_below(10_000), Some(9973));
        assert_eq!(
            prime_reply(10_000),
            "The largest prime less than 10000 is 9973.\n"
        );
        assert_eq!(prime_reply(1), "There are no primes smaller than 1.\n");
    }

    #[test]
    fn normal_sampler_has_the_requested_moments() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng, 50.0, 20.0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((mean - 50.0).abs() < 1.0, "mean {mean}");
        assert!((var.sqrt() - 20.0).abs() < 1.0, "stddev {}", var.sqrt());
    }

    #[tokio::test]
    async fn runs_all_work_and_reports_it() {
        let a = Autoscale::new(4);
        let w = Work {
            sleep: Some(Duration::from_millis(20)),
            prime: Some(100),
            bloat_mb: Some(2),
            ..Work::default()
        };
        let start = Instant::now();
        let reply = a.run(&w).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        let lines: Vec<&str> = reply.lines().collect();
        assert_eq!(lines[0], "Allocated 2 Mb of memory.");
        assert_eq!(lines[1], "The largest prime less than 100 is 97.");
        assert!(lines[2].starts_with("Slept for "), "{reply}");
    }
}
