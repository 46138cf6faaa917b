//! Locust's cumulative totals → increments per step, so counters never go down.
//!
//! Locust clears its statistics when a new test starts (and on "reset stats"). Increments are
//! the difference from the previous poll, and a total that went back is a reset: the new value
//! is all new. Requests made between the last poll before a reset and the reset itself are
//! gone from Locust before anyone could read them; keep `--interval` short.
//!
//! `step` is the user count. While Locust is spawning, increments are held back and counted
//! to the step it spawns to (known once it reports `running`), so a 5→10→20 ramp gives three
//! steps, not one per intermediate user count.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::report::StatsReport;

/// (name, method); the method is "" for a row without one.
pub type EndpointKey = (String, String);
/// (name, method, error message).
pub type ErrorKey = (String, String, String);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub failures: u64,
}

/// What one poll adds.
#[derive(Debug, Default)]
pub struct Observation {
    /// The step the increments below belong to; `None` while the first spawn is under way.
    pub step: Option<String>,
    /// The step before, when it changed with this poll (its gauges are removed).
    pub previous_step: Option<String>,
    pub requests: BTreeMap<EndpointKey, Counts>,
    pub errors: BTreeMap<ErrorKey, u64>,
    /// Locust's stats went back (new test or reset) since the previous poll.
    pub reset: bool,
    /// Endpoints and error messages newly counted under "other".
    pub overflow_endpoints: u64,
    pub overflow_errors: u64,
    /// A test that ran has stopped.
    pub ended: bool,
}

/// Gives the first `max` distinct keys their own label; the rest share "other".
struct Bound {
    max: usize,
    admitted: HashSet<String>,
    overflowed: HashSet<String>,
}

impl Bound {
    fn new(max: usize) -> Self {
        Self {
            max,
            admitted: HashSet::new(),
            overflowed: HashSet::new(),
        }
    }

    /// The label value for `key`, and whether it newly overflowed.
    fn map(&mut self, key: &str) -> (String, bool) {
        if self.admitted.contains(key) {
            return (key.to_string(), false);
        }
        if self.admitted.len() < self.max {
            self.admitted.insert(key.to_string());
            return (key.to_string(), false);
        }
        let new = self.overflowed.insert(key.to_string());
        ("other".to_string(), new)
    }
}

/// Error messages become label values: cut long ones (Locust's include the URL and more).
fn error_label(msg: &str) -> String {
    const MAX: usize = 200;
    if msg.len() <= MAX {
        return msg.to_string();
    }
    let mut end = MAX;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &msg[..end])
}

pub struct Tracker {
    prev_requests: HashMap<EndpointKey, Counts>,
    prev_errors: HashMap<ErrorKey, u64>,
    prev_total: u64,
    state: Option<String>,
    step: Option<u64>,
    /// Seen spawning or running since the last stop.
    ran: bool,
    pending_requests: BTreeMap<EndpointKey, Counts>,
    pending_errors: BTreeMap<ErrorKey, u64>,
    endpoints: Bound,
    messages: Bound,
}

fn active(state: &str) -> bool {
    matches!(state, "spawning" | "running")
}

impl Tracker {
    pub fn new(max_endpoints: usize, max_errors: usize) -> Self {
        Self {
            prev_requests: HashMap::new(),
            prev_errors: HashMap::new(),
            prev_total: 0,
            state: None,
            step: None,
            ran: false,
            pending_requests: BTreeMap::new(),
            pending_errors: BTreeMap::new(),
            endpoints: Bound::new(max_endpoints),
            messages: Bound::new(max_errors),
        }
    }

    /// The `name` label of an endpoint that has its own series, `None` when it has none
    /// (no request yet, or beyond `--max-endpoints`).
    pub fn endpoint_label<'a>(&self, name: &'a str, method: &str) -> Option<&'a str> {
        self.endpoints
            .admitted
            .contains(&format!("{name}\u{0}{method}"))
            .then_some(name)
    }

    pub fn observe(&mut self, r: &StatsReport) -> Observation {
        let mut obs = Observation::default();
        let new_test =
            matches!(self.state.as_deref(), Some("ready" | "stopped")) && active(&r.state);
        let total = r.total().map(|t| t.num_requests).unwrap_or(0);
        if new_test || total < self.prev_total {
            obs.reset = true;
            self.prev_requests.clear();
            self.prev_errors.clear();
        }
        self.prev_total = total;

        for e in r.endpoints() {
            let key = (e.name.clone(), e.method.clone().unwrap_or_default());
            let now = Counts {
                requests: e.num_requests,
                failures: e.num_failures,
            };
            let prev = self
                .prev_requests
                .insert(key.clone(), now)
                .unwrap_or_default();
            let inc = if now.requests < prev.requests || now.failures < prev.failures {
                obs.reset = true;
                now
            } else {
                Counts {
                    requests: now.requests - prev.requests,
                    failures: now.failures - prev.failures,
                }
            };
            if inc == Counts::default() {
                continue;
            }
            let (name, overflow) = self.endpoints.map(&format!("{}\u{0}{}", key.0, key.1));
            obs.overflow_endpoints += u64::from(overflow);
            let name = if name == "other" { name } else { key.0.clone() };
            let c = self.pending_requests.entry((name, key.1)).or_default();
            c.requests += inc.requests;
            c.failures += inc.failures;
        }
        for e in &r.errors {
            let key = (
                e.name.clone(),
                e.method.clone().unwrap_or_default(),
                e.error.clone(),
            );
            let prev = self
                .prev_errors
                .insert(key.clone(), e.occurrences)
                .unwrap_or(0);
            let inc = if e.occurrences < prev {
                obs.reset = true;
                e.occurrences
            } else {
                e.occurrences - prev
            };
            if inc == 0 {
                continue;
            }
            let (name, o1) = self.endpoints.map(&format!("{}\u{0}{}", key.0, key.1));
            let name = if name == "other" { name } else { key.0.clone() };
            let (error, o2) = self.messages.map(&error_label(&key.2));
            obs.overflow_endpoints += u64::from(o1);
            obs.overflow_errors += u64::from(o2);
            *self.pending_errors.entry((name, key.1, error)).or_default() += inc;
        }

        let was = self.step;
        if active(&r.state) {
            self.ran = true;
        }
        if r.state == "running" {
            self.step = Some(r.user_count);
        }
        let ended = self.ran && r.state == "stopped";
        if ended {
            self.ran = false;
            obs.ended = true;
        }
        // Outside a spawn the step is known (or, for a run seen only after it ended, is the
        // user count Locust reports).
        let anything = !self.pending_requests.is_empty() || !self.pending_errors.is_empty();
        if (r.state != "spawning" || ended) && (anything || self.step.is_some()) {
            let step = *self.step.get_or_insert(r.user_count);
            obs.step = Some(step.to_string());
            obs.requests = std::mem::take(&mut self.pending_requests);
            obs.errors = std::mem::take(&mut self.pending_errors);
        } else {
            obs.step = self.step.map(|s| s.to_string());
        }
        if was.is_some() && was != self.step {
            obs.previous_step = was.map(|s| s.to_string());
        }
        self.state = Some(r.state.clone());
        obs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Entry, ErrorRow};

    fn entry(name: &str, req: u64, fail: u64) -> Entry {
        Entry {
            name: name.into(),
            method: Some("GET".into()),
            num_requests: req,
            num_failures: fail,
            median_response_time: None,
            avg_response_time: None,
            max_response_time: None,
            current_rps: None,
            current_fail_per_sec: None,
            p95: None,
            p99: None,
        }
    }

    fn report(state: &str, users: u64, rows: &[(&str, u64, u64)]) -> StatsReport {
        let mut stats: Vec<Entry> = rows.iter().map(|(n, r, f)| entry(n, *r, *f)).collect();
        let total = rows.iter().fold((0, 0), |a, (_, r, f)| (a.0 + r, a.1 + f));
        let mut t = entry("Aggregated", total.0, total.1);
        t.method = None;
        stats.push(t);
        StatsReport {
            stats,
            errors: vec![],
            state: state.into(),
            user_count: users,
            worker_count: Some(2),
            fail_ratio: None,
        }
    }

    fn reqs(o: &Observation, name: &str) -> u64 {
        o.requests
            .get(&(name.to_string(), "GET".to_string()))
            .map(|c| c.requests)
            .unwrap_or(0)
    }

    #[test]
    fn increments_add_up_to_locusts_totals_across_a_reset() {
        let mut t = Tracker::new(100, 100);
        let mut sum = 0;
        for (state, users, n) in [
            ("running", 10, 100),
            ("running", 10, 250),
            ("stopped", 0, 300),
            // A new test: Locust starts again from 0 and has already made 40.
            ("running", 10, 40),
            ("running", 10, 90),
        ] {
            let o = t.observe(&report(state, users, &[("/a", n, 0)]));
            sum += reqs(&o, "/a");
        }
        assert_eq!(sum, 300 + 90);
    }

    #[test]
    fn a_total_that_goes_back_is_a_reset_even_between_two_running_polls() {
        let mut t = Tracker::new(100, 100);
        t.observe(&report("running", 5, &[("/a", 500, 3)]));
        let o = t.observe(&report("running", 5, &[("/a", 20, 1)]));
        assert!(o.reset);
        assert_eq!(reqs(&o, "/a"), 20);
        assert_eq!(o.requests[&("/a".into(), "GET".into())].failures, 1);
    }

    #[test]
    fn requests_made_while_spawning_count_to_the_step_spawned_to() {
        let mut t = Tracker::new(100, 100);
        let o = t.observe(&report("spawning", 3, &[("/a", 10, 0)]));
        assert_eq!(o.step, None);
        assert!(o.requests.is_empty());
        let o = t.observe(&report("running", 5, &[("/a", 30, 0)]));
        assert_eq!(o.step.as_deref(), Some("5"));
        assert_eq!(reqs(&o, "/a"), 30);
        let o = t.observe(&report("spawning", 8, &[("/a", 50, 0)]));
        assert_eq!(o.step.as_deref(), Some("5"));
        assert!(o.requests.is_empty());
        let o = t.observe(&report("running", 10, &[("/a", 70, 0)]));
        assert_eq!(o.step.as_deref(), Some("10"));
        assert_eq!(o.previous_step.as_deref(), Some("5"));
        assert_eq!(reqs(&o, "/a"), 40);
        // After the stop the user count is 0, but the requests still belong to step 10.
        let o = t.observe(&report("stopped", 0, &[("/a", 75, 0)]));
        assert!(o.ended);
        assert_eq!(o.step.as_deref(), Some("10"));
        assert_eq!(reqs(&o, "/a"), 5);
    }

    #[test]
    fn an_idle_master_has_no_step_until_a_test_runs() {
        let mut t = Tracker::new(100, 100);
        let o = t.observe(&report("ready", 0, &[]));
        assert_eq!(o.step, None);
        let o = t.observe(&report("running", 10, &[("/a", 5, 0)]));
        assert_eq!(o.step.as_deref(), Some("10"));
        assert_eq!(o.previous_step, None);
    }

    #[test]
    fn endpoints_and_error_messages_beyond_the_bound_share_other() {
        let mut t = Tracker::new(2, 1);
        let mut r = report(
            "running",
            1,
            &[("/a", 1, 1), ("/b", 1, 0), ("/c", 1, 0), ("/d", 1, 0)],
        );
        r.errors = vec![
            ErrorRow {
                name: "/a".into(),
                method: Some("GET".into()),
                error: "x".repeat(500),
                occurrences: 1,
            },
            ErrorRow {
                name: "/a".into(),
                method: Some("GET".into()),
                error: "boom".into(),
                occurrences: 2,
            },
        ];
        let o = t.observe(&r);
        assert_eq!(reqs(&o, "/a") + reqs(&o, "/b") + reqs(&o, "other"), 4);
        assert_eq!(reqs(&o, "other"), 2);
        assert_eq!(o.overflow_endpoints, 2);
        assert_eq!(o.overflow_errors, 1);
        let long = o.errors.keys().find(|k| k.2 != "other").unwrap();
        assert!(long.2.chars().count() <= 201);
        assert_eq!(o.errors.values().sum::<u64>(), 3);
    }
}
