//! The names behind the small indices the hot path records under: scenarios, steps,
//! requests, checks, tiers and tags, fixed before the run starts and read at collection.

/// Names behind the indices used as keys.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    pub scenarios: Vec<String>,
    /// Per scenario: step labels, and level/unit for `redline_step_level`.
    pub steps: Vec<Vec<StepLabel>>,
    pub requests: Vec<RequestLabel>,
    /// Per check: (scenario index, check name).
    pub checks: Vec<(u16, String)>,
    pub tiers: Vec<String>,
    /// Per scenario: its `tags` (k6's scenario tags), on every series of the scenario.
    /// Missing entries mean no tags.
    pub scenario_tags: Vec<Tags>,
    /// Per request id: the scenario's tags merged with the request's own (the request's win),
    /// on the series of that request. Missing entries mean no tags.
    pub request_tags: Vec<Tags>,
}

/// Extra labels from a scenario file's `tags`: validated keys, literal values, sorted by key.
pub type Tags = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct StepLabel {
    pub label: String,
    pub level: f64,
    /// `vus` or `rate` from the executor, or a sweep step's own unit (`tokens`).
    pub unit: String,
}

#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub scenario: u16,
    pub name: String,
    pub method: String,
}

impl Labels {
    /// The `step` label of a scenario's step; empty when the step is unknown.
    pub fn step_label(&self, scenario: u16, step: u16) -> &str {
        self.steps[scenario as usize]
            .get(step as usize)
            .map_or("", |s| s.label.as_str())
    }

    pub fn scenario_tags(&self, scenario: u16) -> &[(String, String)] {
        self.scenario_tags
            .get(scenario as usize)
            .map_or(&[], Vec::as_slice)
    }

    pub fn request_tags(&self, req: u16) -> &[(String, String)] {
        self.request_tags
            .get(req as usize)
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
impl Labels {
    /// Scenario `s`, one step `1` in VUs, one request `r` (GET), no tier, no checks.
    pub(super) fn one_request() -> Self {
        Labels {
            scenarios: vec!["s".into()],
            steps: vec![vec![StepLabel {
                label: "1".into(),
                level: 1.0,
                unit: "vus".into(),
            }]],
            requests: vec![RequestLabel {
                scenario: 0,
                name: "r".into(),
                method: "GET".into(),
            }],
            tiers: vec![String::new()],
            ..Labels::default()
        }
    }
}
