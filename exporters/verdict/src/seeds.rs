//! Which rules judge which seed scenario (`/work/shared/seeds`, summarised in
//! the README's "Which rule judges which seed criterion"). A run of one of these scenarios must be judged by every rule
//! listed for it: when one of them had no data, the run was not judged on that criterion,
//! and the verdict says so (exit 2, "unjudged") instead of passing it.
//!
//! A run is of a scenario when `--seed` names it or when its series carry the scenario's
//! name as their `scenario` label (the threshold presets use the same names).

/// One seed scenario and the alert rules that judge its criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedScenario {
    /// The `scenario` label / `--seed` value.
    pub id: &'static str,
    /// Seed file and section it comes from.
    pub source: &'static str,
    pub rules: &'static [&'static str],
}

const HTTP_CORE: [&str; 4] = [
    "RedlineLatencyDegraded",
    "RedlineLatencyBreaking",
    "RedlineSuccessRateDegraded",
    "RedlineSuccessRateBreaking",
];

pub const SCENARIOS: &[SeedScenario] = &[
    SeedScenario {
        id: "maas-burst",
        source: "maas-scale-testing-plan.md: Test 1, concurrent users",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            HTTP_CORE[2],
            HTTP_CORE[3],
            "RedlineErrorRatioBreaking",
            "RedlineRateLimited",
            "RedlineRateLimitsNotRaised",
        ],
    },
    SeedScenario {
        id: "maas-rate",
        source: "maas-scale-testing-plan.md: Test 2, request rate breaking point",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            HTTP_CORE[2],
            HTTP_CORE[3],
            "RedlineServerErrors",
            "RedlineSaturated",
            // The seed's Saturated in full: "Actual RPS < target, latency increasing".
            "RedlineSaturatedLatencyRising",
            "RedlineRateLimited",
            "RedlineRateLimitsNotRaised",
        ],
    },
    SeedScenario {
        id: "maas-tokens",
        source: "maas-scale-testing-plan.md: Test 3, token volume",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            "RedlineTokenVolumeDegraded",
            "RedlineTokenVolumeBreaking",
            "RedlineRateLimitsNotRaised",
        ],
    },
    SeedScenario {
        id: "kubeserve",
        source: "kubeserve-reliability-testing.md: baseline and HPA ramp",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            "RedlineErrorRatioDegraded",
            "RedlineErrorRatioBreaking",
            "RedlineLatencyDriftP95",
            "RedlineLatencyDriftP99",
        ],
    },
    SeedScenario {
        id: "kubeserve-hpa",
        source: "kubeserve-reliability-testing.md: HPA scaling",
        rules: &[
            "RedlineHpaSlowToScale",
            "RedlineHpaSlowToRespond",
            "RedlineHpaPeakBelowExpected",
        ],
    },
    SeedScenario {
        id: "vps-load",
        source: "vps-load-and-chaos-summary.md: light/medium/peak/stress load",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            "RedlineErrorRatioDegraded",
            "RedlineErrorRatioBreaking",
            "RedlineLatencyDriftP95",
            "RedlineFitNearBudget",
            "RedlineFitOverBudget",
        ],
    },
    SeedScenario {
        id: "vps-chaos",
        source: "vps-load-and-chaos-summary.md: chaos tests and recovery targets",
        rules: &[
            "RedlineChaosInterruptionTooLong",
            "RedlineChaosRecoveryTooLong",
            "RedlineChaosLostWrites",
        ],
    },
    SeedScenario {
        id: "knative-activator",
        source: "knative-scaling-scenarios.md: activator limit with heap profiles",
        rules: &[
            HTTP_CORE[0],
            HTTP_CORE[1],
            "RedlineSaturated",
            "RedlineHeapGrowth",
        ],
    },
    SeedScenario {
        id: "linkerd-baseline",
        source: "linkerd-destination-load-test-plan.md: Scenario 1",
        rules: &[
            "RedlineDstStreamsBelowRequested",
            "RedlineDstStreamResets",
            "RedlineDstConnectionErrors",
            "RedlineDstMemoryNotReturning",
        ],
    },
    SeedScenario {
        id: "linkerd-small-oscillation",
        source: "linkerd-destination-load-test-plan.md: Scenario 2",
        rules: &[
            "RedlineDstUpdateLatencyP95",
            "RedlineDstUpdateLatencyP99",
            "RedlineDstFanoutSlow",
            "RedlineDstSendTimeouts",
            "RedlineDstMemoryNotReturning",
        ],
    },
    SeedScenario {
        id: "linkerd-large-rollout",
        source: "linkerd-destination-load-test-plan.md: Scenario 3",
        rules: &[
            "RedlineDstUpdateLatencyP95",
            "RedlineDstUpdateLatencyP99",
            "RedlineDstFanoutSlow",
            "RedlineDstSendTimeouts",
            "RedlineDstMemorySpike",
        ],
    },
    SeedScenario {
        id: "linkerd-many-services",
        source: "linkerd-destination-load-test-plan.md: Scenario 4",
        rules: &[
            "RedlineDstUpdateLatencyP95",
            "RedlineDstUpdateLatencyP99",
            "RedlineDstFanoutSlow",
            "RedlineDstSendTimeouts",
            "RedlineDstMemoryCeiling",
        ],
    },
    SeedScenario {
        id: "linkerd-redline",
        source: "linkerd-destination-load-test-plan.md: Scenario 5",
        rules: &[
            "RedlineDstUpdateLatencyP99",
            "RedlineDstSendTimeouts",
            "RedlineDstMemoryCeiling",
        ],
    },
];

pub fn lookup(id: &str) -> Option<&'static SeedScenario> {
    SCENARIOS.iter().find(|s| s.id == id)
}

/// The known ids, for an error message.
pub fn ids() -> String {
    SCENARIOS
        .iter()
        .map(|s| s.id)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seed scenario judged by a rule that does not exist would be judged by nothing.
    #[test]
    fn every_listed_rule_exists_and_ids_are_unique() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts");
        let names: Vec<String> = crate::rules::read_dir(&dir)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for s in SCENARIOS {
            assert!(ids.insert(s.id), "{} listed twice", s.id);
            assert!(!s.rules.is_empty(), "{} is judged by nothing", s.id);
            for r in s.rules {
                assert!(names.iter().any(|n| n == r), "{}: no rule {r}", s.id);
            }
        }
    }
}
