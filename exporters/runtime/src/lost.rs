//! Samples a run lost on the way to the receiver: said in one line at the end, and
//! remembered for the process's exit code. A run whose data never arrived must not look
//! like a success (k6 likewise keeps "thresholds failed" apart from "output failed").

use std::sync::atomic::{AtomicU64, Ordering};

use redline_remote_write::StatsSnapshot;

/// The exit code of a run that lost samples (and failed no threshold): 0 passed,
/// 1 a threshold failed, 2 unjudged or a usage error, 3 samples lost.
pub const SAMPLES_LOST_EXIT_CODE: u8 = 3;

static LOST: AtomicU64 = AtomicU64::new(0);

pub(crate) fn record(n: u64) {
    LOST.fetch_add(n, Ordering::Relaxed);
}

/// Samples lost by every runtime finished in this process so far.
pub fn samples_lost() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// For samples a daemon lost before they reached its remote-write queue (k6-relay's refused
/// writes, its disk buffer's leftovers): said in one line like the queue's own, and counted
/// for exit code 3. `why` is "n reason; m reason…".
pub fn report_lost(daemon: &str, n: u64, why: &str) {
    if n == 0 {
        return;
    }
    record(n);
    eprintln!(
        "redline {daemon}: {n} samples lost before the remote-write queue: {why}; exit code {SAMPLES_LOST_EXIT_CODE}"
    );
}

/// "N samples lost: a (why), b (why)…", or None when nothing was lost.
pub(crate) fn lost_line(s: &StatsSnapshot) -> Option<String> {
    let total = s.dropped();
    if total == 0 {
        return None;
    }
    let why: Vec<String> = [
        (
            s.dropped_shutdown,
            "still unsent when the shutdown grace ended: the receiver was unreachable or failing (5xx/429)",
        ),
        (
            s.dropped_rejected,
            "refused by the receiver with a 4xx (its log says why)",
        ),
        (
            s.dropped_queue_full,
            "the queue was full (raise --remote-write-queue-capacity or --remote-write-shards)",
        ),
        (
            s.dropped_out_of_order,
            "not newer than a sample already sent for the series",
        ),
        (
            s.dropped_histograms_refused,
            "native histograms the receiver does not take, with --native-histogram-fallback drop",
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    Some(format!(
        "{total} samples lost on the way to the remote-write receiver: {}; exit code {SAMPLES_LOST_EXIT_CODE}",
        why.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_lost_says_nothing_and_each_reason_is_named_with_its_count() {
        assert_eq!(lost_line(&StatsSnapshot::default()), None);
        let line = lost_line(&StatsSnapshot {
            dropped_shutdown: 7,
            dropped_rejected: 2,
            ..Default::default()
        })
        .unwrap();
        assert!(line.starts_with("9 samples lost"), "{line}");
        assert!(
            line.contains("7 still unsent") && line.contains("2 refused"),
            "{line}"
        );
        assert!(!line.contains("queue"), "{line}");
    }
}
