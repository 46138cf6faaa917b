//! One latency-like series: an HDR histogram (µs, or milli-units for rates) and its exact sum.

use hdrhistogram::Histogram;

/// µs, 1 µs .. 1 h; longer values are clamped (SSE streams of an hour are not latency).
const HIST_MAX_US: u64 = 3_600_000_000;

pub type Hist = Histogram<u64>;

fn hist(sigfig: u8) -> Hist {
    Histogram::new_with_bounds(1, HIST_MAX_US, sigfig).expect("static bounds")
}

/// Records, clamping instead of failing.
pub fn record(h: &mut Hist, us: u64) {
    let _ = h.record(us.min(HIST_MAX_US));
}

#[derive(Debug, Clone)]
pub struct Timed {
    pub sum_us: u64,
    pub hist: Hist,
}

impl Timed {
    /// The full 1 µs .. 1 h layout at `sigfig` significant figures.
    pub fn new(sigfig: u8) -> Self {
        Self {
            sum_us: 0,
            hist: hist(sigfig),
        }
    }
    /// Grows with the largest value recorded (a few KiB for µs-scale phases instead of the
    /// full 1 µs .. 1 h layout); it reallocates at most once per doubling of the maximum,
    /// never per request.
    pub(super) fn auto(sigfig: u8) -> Self {
        Self {
            sum_us: 0,
            hist: Histogram::new(sigfig).expect("static sigfig"),
        }
    }
    pub fn record(&mut self, us: u64) {
        self.sum_us += us;
        record(&mut self.hist, us);
    }
    /// Adds another's counts and sum (merging shards, or cells for a summary figure).
    pub fn add(&mut self, o: &Timed) {
        self.sum_us += o.sum_us;
        let _ = self.hist.add(&o.hist);
    }
}
