//! Series written by rules.

use crate::Metric;

pub const ALL: &[Metric] = &[];
