//! Series written by churn.

use crate::Metric;

pub const ALL: &[Metric] = &[];
