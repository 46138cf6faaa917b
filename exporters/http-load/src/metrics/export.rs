//! HDR histogram → Prometheus histogram: classic per-bucket counts and native schema-3
//! sparse buckets (spans and deltas), both built from the same recorded counts.

use std::collections::BTreeMap;

use super::timed::Timed;

/// Scale of histograms recorded in µs, to seconds.
pub const US: f64 = 1e-6;

/// Classic bucket bounds (s) for `k6_http_req_duration_seconds_bucket` and the other
/// histograms: dense around the seeds' thresholds (250 ms, 500 ms, 1 s, 5 s).
pub const CLASSIC_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0,
    1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
];

pub const NATIVE_SCHEMA: i32 = 3;
pub const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39; // 2^-128, client_golang's default

/// An HDR histogram (µs, or milli-units with `scale`) as Prometheus histograms: classic
/// per-bucket counts and native schema-3 sparse buckets, built from the same counts.
pub struct Exported {
    pub sum: f64,
    pub count: u64,
    pub classic: Vec<(f64, u64)>,
    pub zero_count: u64,
    pub spans: Vec<(i32, u32)>,
    pub deltas: Vec<i64>,
}

pub fn export(t: &Timed, scale: f64) -> Exported {
    let mut classic: Vec<(f64, u64)> = CLASSIC_BOUNDS.iter().map(|b| (*b, 0)).collect();
    classic.push((f64::INFINITY, 0));
    let mut native: BTreeMap<i32, u64> = BTreeMap::new();
    let mut zero_count = 0;
    for v in t.hist.iter_recorded() {
        let n = v.count_at_value();
        let x = t.hist.median_equivalent(v.value_iterated_to()) as f64 * scale;
        let i = classic.partition_point(|(b, _)| *b < x);
        let last = classic.len() - 1;
        classic[i.min(last)].1 += n;
        if x <= ZERO_THRESHOLD {
            zero_count += n;
        } else {
            let idx = (x.log2() * f64::from(1 << NATIVE_SCHEMA)).ceil() as i32;
            *native.entry(idx).or_default() += n;
        }
    }
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut deltas = Vec::new();
    let (mut prev_idx, mut prev_count) = (None::<i32>, 0i64);
    for (idx, n) in native {
        match prev_idx {
            Some(p) if idx == p + 1 => spans.last_mut().expect("open span").1 += 1,
            Some(p) => spans.push((idx - p - 1, 1)),
            None => spans.push((idx, 1)),
        }
        deltas.push(n as i64 - prev_count);
        prev_count = n as i64;
        prev_idx = Some(idx);
    }
    Exported {
        sum: t.sum_us as f64 * scale,
        count: t.hist.len(),
        classic,
        zero_count,
        spans,
        deltas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_buckets_hold_every_observation_at_the_right_index() {
        let mut t = Timed::new(3);
        for us in [1_000u64, 1_000, 50_000, 50_000, 50_000, 2_000_000] {
            t.record(us);
        }
        let e = export(&t, US);
        assert_eq!(e.count, 6);
        assert!((e.sum - 2.152).abs() < 1e-9);
        // Decode spans/deltas back to (index, count).
        let mut idx = 0;
        let mut cnt = 0i64;
        let mut di = 0;
        let mut got = Vec::new();
        for (k, (off, len)) in e.spans.iter().enumerate() {
            idx = if k == 0 { *off } else { idx + off };
            for j in 0..*len {
                cnt += e.deltas[di];
                di += 1;
                got.push((idx + j as i32, cnt));
            }
            idx += *len as i32;
        }
        let total: i64 = got.iter().map(|(_, c)| c).sum();
        assert_eq!(total, 6);
        // 50 ms falls in the bucket (2^((i-1)/8), 2^(i/8)].
        let i50 = got.iter().find(|(_, c)| *c == 3).unwrap().0;
        let (lo, hi) = (
            2f64.powf((i50 - 1) as f64 / 8.0),
            2f64.powf(i50 as f64 / 8.0),
        );
        assert!(lo < 0.05 && 0.05 <= hi, "{lo}..{hi}");
        // Classic: cumulative at 0.05 s holds the 1 ms and 50 ms observations.
        let upto: u64 = e
            .classic
            .iter()
            .take_while(|(b, _)| *b <= 0.05 + 1e-12)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(upto, 5);
        assert_eq!(e.classic.last().unwrap().0, f64::INFINITY);
    }
}
