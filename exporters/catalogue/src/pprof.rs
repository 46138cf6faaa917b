//! Series written by pprof.

use crate::Metric;

pub const ALL: &[Metric] = &[];
