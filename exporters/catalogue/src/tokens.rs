//! Series written by tokens.

use crate::Metric;

pub const ALL: &[Metric] = &[];
