//! Series written by target.

use crate::Metric;

pub const ALL: &[Metric] = &[];
