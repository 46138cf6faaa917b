//! Series written by chaos.

use crate::Metric;

pub const ALL: &[Metric] = &[];
