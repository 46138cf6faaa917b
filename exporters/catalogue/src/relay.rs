//! Series written by relay.

use crate::Metric;

pub const ALL: &[Metric] = &[];
