//! Series written by `redline http-load`. The `k6_` families keep k6's names and label
//! keys so existing k6 dashboards and queries read redline runs unchanged; what k6 has
//! no name for uses the `redline_` prefix.
//!
//! A scenario file's `tags:` (on a scenario or a request, like k6's tags) add label keys of
//! the user's choosing to that scenario's or request's series, besides the keys listed here;
//! their values are literals from the file, so they never multiply the number of series.
//!
//! http-load writes these families with its own encoder (HDR histograms merged per
//! collection, not prometheus-client metrics), which takes the typed entries: a
//! family is written only as the kind it is declared, with at least its declared keys.
//!
//! The entries live in `metrics/http_load.toml` (see `build/daemon.rs` for its layout).

use crate::{Catalogued, kinds};

include!(concat!(env!("OUT_DIR"), "/http_load.rs"));

/// The trend-stat gauges, for the encoder to find the one a `--trend-stats` entry names.
pub const TREND_STATS: [Catalogued<Request, kinds::Gauge>; 9] = [
    HTTP_REQ_DURATION_STAT,
    HTTP_REQ_DURATION_P50,
    HTTP_REQ_DURATION_P99,
    HTTP_REQ_DURATION_P90,
    HTTP_REQ_DURATION_P999,
    HTTP_REQ_DURATION_AVG,
    HTTP_REQ_DURATION_MIN,
    HTTP_REQ_DURATION_MAX,
    HTTP_REQ_DURATION_MED,
];
