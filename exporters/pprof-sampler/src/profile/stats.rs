//! What redline takes from a profile: the total of each sample type and per-function
//! flat/cumulative values, the rows of `go tool pprof -top`.

/// The total of one sample type over all samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTotal {
    pub sample_type: String,
    pub unit: String,
    pub total: i64,
}

/// One function's values for one sample type, as one row of `go tool pprof -top`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionStat {
    pub name: String,
    /// Value of the samples whose leaf frame is this function.
    pub flat: i64,
    /// Value of the samples with this function anywhere on the stack (once per sample,
    /// so recursion is not counted twice).
    pub cum: i64,
}

/// Everything the sampler takes from one profile: the total of every sample type and the
/// top-N functions by flat and by cumulative value of one sample type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub totals: Vec<SampleTotal>,
    /// Ordered like `go tool pprof -top`.
    pub top_flat: Vec<FunctionStat>,
    /// Ordered like `go tool pprof -top -cum`.
    pub top_cum: Vec<FunctionStat>,
}
