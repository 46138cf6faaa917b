//! The label pairs of each kind of series, in the order they are written: built-in keys
//! first, then the scenario's or the request's tags, then any key a family adds itself.

use std::collections::BTreeMap;

use super::families::{L, tagged};
use super::keys::{ReqKey, StepKey};
use super::recorder::Metrics;
use super::shard::Shard;

/// Label pairs for one collection; status codes are turned into text once.
pub struct SeriesLabels<'a> {
    m: &'a Metrics,
    status: BTreeMap<u16, String>,
}

impl<'a> SeriesLabels<'a> {
    pub fn new(m: &'a Metrics, s: &Shard) -> Self {
        let status = s
            .reqs
            .keys()
            .chain(s.phases.keys())
            .map(|k| (k.status, k.status.to_string()))
            .collect();
        Self { m, status }
    }

    /// scenario, step, name, method.
    fn request_pairs(&self, req: u16, step: u16) -> L<'_> {
        let lb = &self.m.labels;
        let r = &lb.requests[req as usize];
        vec![
            ("scenario", lb.scenarios[r.scenario as usize].as_str()),
            ("step", lb.step_label(r.scenario, step)),
            ("name", r.name.as_str()),
            ("method", r.method.as_str()),
        ]
    }

    /// A response (k6's per-request series): the request's pairs, status,
    /// expected_response, tier, then the request's tags.
    pub fn response(&self, k: &ReqKey) -> L<'_> {
        let lb = &self.m.labels;
        let mut l = self.request_pairs(k.req, k.step);
        l.push(("status", self.status[&k.status].as_str()));
        let expected = if self.m.expected(k.status) {
            "true"
        } else {
            "false"
        };
        l.push(("expected_response", expected));
        l.push(("tier", lb.tiers[k.tier as usize].as_str()));
        tagged(l, lb.request_tags(k.req))
    }

    /// A request in a step, over all its responses: its pairs, then its tags.
    pub fn request(&self, req: u16, step: u16) -> L<'_> {
        tagged(
            self.request_pairs(req, step),
            self.m.labels.request_tags(req),
        )
    }

    /// A request in a step for one tier: its pairs, tier, then its tags.
    pub fn request_tier(&self, req: u16, step: u16, tier: u16) -> L<'_> {
        let lb = &self.m.labels;
        let mut l = self.request_pairs(req, step);
        l.push(("tier", lb.tiers[tier as usize].as_str()));
        tagged(l, lb.request_tags(req))
    }

    /// A scenario's step: scenario, step, then the scenario's tags.
    pub fn step(&self, k: &StepKey) -> L<'_> {
        let lb = &self.m.labels;
        let l = vec![
            ("scenario", lb.scenarios[k.scenario as usize].as_str()),
            ("step", lb.step_label(k.scenario, k.step)),
        ];
        tagged(l, lb.scenario_tags(k.scenario))
    }

    /// A check in a step: scenario, step, check, then the scenario's tags.
    pub fn check(&self, check: u16, step: u16) -> L<'_> {
        let lb = &self.m.labels;
        let (sc, name) = &lb.checks[check as usize];
        let l = vec![
            ("scenario", lb.scenarios[*sc as usize].as_str()),
            ("step", lb.step_label(*sc, step)),
            ("check", name.as_str()),
        ];
        tagged(l, lb.scenario_tags(*sc))
    }

    /// OpenAI figures of a scenario's step and tier: scenario, step, tier, then the
    /// scenario's tags.
    pub fn llm(&self, scenario: u16, step: u16, tier: u16) -> L<'_> {
        let lb = &self.m.labels;
        let l = vec![
            ("scenario", lb.scenarios[scenario as usize].as_str()),
            ("step", lb.step_label(scenario, step)),
            ("tier", lb.tiers[tier as usize].as_str()),
        ];
        tagged(l, lb.scenario_tags(scenario))
    }
}
