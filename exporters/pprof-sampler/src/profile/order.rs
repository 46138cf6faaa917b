//! pprof's row order and the top-N cut: `-top` by flat, `-top -cum` by cumulative value.

use super::stats::FunctionStat;

/// Which column orders a top list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Flat,
    Cum,
}

/// Sorts like pprof's `FlatNameOrder` / `CumNameOrder` (absolute value descending, then name,
/// then the other column) and keeps the first `n`.
pub fn top(mut stats: Vec<FunctionStat>, n: usize, order: Order) -> Vec<FunctionStat> {
    sort(&mut stats, order);
    stats.truncate(n);
    stats
}

pub fn sort(stats: &mut [FunctionStat], order: Order) {
    stats.sort_by(|a, b| {
        compare(
            (a.name.as_bytes(), a.flat, a.cum),
            (b.name.as_bytes(), b.flat, b.cum),
            order,
        )
    });
}

/// pprof's row order on (name, flat, cum).
pub(super) fn compare(
    a: (&[u8], i64, i64),
    b: (&[u8], i64, i64),
    order: Order,
) -> std::cmp::Ordering {
    let (pa, sa, pb, sb) = match order {
        Order::Flat => (a.1, a.2, b.1, b.2),
        Order::Cum => (a.2, a.1, b.2, b.1),
    };
    pb.unsigned_abs()
        .cmp(&pa.unsigned_abs())
        .then_with(|| a.0.cmp(b.0))
        .then_with(|| sb.unsigned_abs().cmp(&sa.unsigned_abs()))
}
