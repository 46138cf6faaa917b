//! Series written by dst_client.

use crate::Metric;

pub const ALL: &[Metric] = &[];
