//! The request mix the engine-parity tests (lean_vs_hyper, h2_lean_parity) send through two
//! engines, which must count it alike: statuses of every class, checks that pass and fail,
//! and an OpenAI completion.

use super::{REQS_TOTAL, Run};

/// 3 VUs × 20 iterations: every request of the mix is counted this many times.
pub const PER_REQUEST: f64 = 60.0;

const MIX: &str = r#"  mix:
    executor: per-vu-iterations
    vus: 3
    iterations: 20
    requests:
      - {name: predict, method: POST, url: /api/v1/predict/2, body: {json: {instances: [[1, 2]]}},
         checks: [{name: predict-200, status: [200]}, {name: has-predictions, json: /predictions},
                  {name: json-ct, header: content-type}]}
      - {name: health, url: /api/v1/predict/2/health, checks: [{name: says-nope, bodyContains: "zzz-not-there"}]}
      - {name: unavailable, url: "/autoscale?status=503"}
      - {name: limited, url: "/autoscale?status=429"}
      - {name: completion, url: /v1/completions, openai: {model: m, maxTokens: 4}}
"#;

/// The mix's requests and the status each is answered with.
pub const STATUSES: [(&str, &str); 5] = [
    ("predict", "200"),
    ("health", "200"),
    ("unavailable", "503"),
    ("limited", "429"),
    ("completion", "200"),
];

/// The mix's checks and the result each has.
pub const CHECKS: [(&str, &str); 4] = [
    ("predict-200", "pass"),
    ("has-predictions", "pass"),
    ("json-ct", "pass"),
    ("says-nope", "fail"),
];

/// The scenario file: `options` (top-level lines such as `http2: true`) after `baseUrl`, then
/// the mix's requests followed by `extra` (more request items at the same indentation).
pub fn scenario(options: &str, extra: &str) -> String {
    format!("baseUrl: BASE\n{options}scenarios:\n{MIX}{extra}")
}

/// Asserts every request of the mix, and each of `extra`, was counted [`PER_REQUEST`] times
/// with its status; `what` names the run in the message.
pub fn assert_statuses(run: &Run, what: &str, extra: &[(&str, &str)]) {
    for (name, status) in STATUSES.iter().chain(extra) {
        assert_eq!(
            run.sum(REQS_TOTAL, &[("name", name), ("status", status)]),
            PER_REQUEST,
            "{what}: {name} {status}\n{}",
            run.text()
        );
    }
}
