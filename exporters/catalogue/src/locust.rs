//! Series written by locust.

use crate::Metric;

pub const ALL: &[Metric] = &[];
