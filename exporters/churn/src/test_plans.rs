//! Plans the unit tests of [`crate::timeline`] and [`crate::schedule`] share, so both
//! check the same Scenario 2 and the same pattern shapes rather than each spelling them.

use std::time::Duration;

use crate::timeline::{Pattern, Plan};

pub fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `min <-> max`, holding `min_hold` / `max_hold` seconds.
pub fn oscillate(min: u32, max: u32, min_hold: u64, max_hold: u64) -> Pattern {
    Pattern::Oscillate {
        min,
        max,
        min_hold: s(min_hold),
        max_hold: s(max_hold),
    }
}

/// `pattern` over `services` with no duration, jitter or batches.
pub fn plan(pattern: Pattern, services: u32, cycles: Option<u32>) -> Plan {
    Plan::new(
        pattern,
        services,
        cycles,
        None,
        Duration::ZERO,
        0,
        Duration::ZERO,
    )
    .unwrap()
}

/// Scenario 2 of the plan: 10 services, 10 <-> 200, holds 2 m / 5 m, jitter 0-5 s, 3 cycles.
pub fn scenario_two() -> Plan {
    Plan::new(
        oscillate(10, 200, 120, 300),
        10,
        Some(3),
        None,
        s(5),
        0,
        Duration::ZERO,
    )
    .unwrap()
}
