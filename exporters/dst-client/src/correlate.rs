//! Change -> observation: joins churn's scale events with what every stream sees.
//!
//! Per service there are `streams-per-service` *slots* (simulated clients); a slot
//! outlives its streams, so a client that reconnects is still the same client. For each
//! scale event (target replicas, churn's wall-clock time) every slot is pending until
//! its endpoint count reaches the target:
//! - `update_latency`: event time -> the slot's set reaching the target (per slot);
//! - `endpoint_latency`: event time -> each endpoint add/remove a slot receives while
//!   the event is pending for it (one observation per endpoint);
//! - `fanout_completion`: event time -> the last slot converging (per event);
//! - events some slot did not reach within `converge_timeout` are counted unobserved.
//!
//! An event overtaken by the next one of its service (scaled again before a slot got
//! there) is *superseded* for that slot: no latency, and no fan-out time for the event.
//! An event stamped before this process started is taken as the baseline, not timed.
//! The event may arrive after a slot already converged (the watch was slower than the
//! destination path): a slot whose count equals the target and last changed after the
//! event's time is taken as converged at that change.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::endpoints::Change;
use crate::events::ScaleEvent;
use crate::histogram::AtomicHistogram;
use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy)]
struct Slot {
    count: u32,
    connected: bool,
    changed_at: SystemTime,
}

#[derive(Debug)]
struct Pending {
    target: u32,
    time: SystemTime,
    arrived: Instant,
    /// Bit per slot: still waiting for it.
    waiting: Vec<u64>,
    left: u32,
    superseded: bool,
    last_converged: SystemTime,
}

impl Pending {
    fn is_waiting(&self, slot: usize) -> bool {
        self.waiting[slot / 64] & (1 << (slot % 64)) != 0
    }

    fn clear(&mut self, slot: usize) -> bool {
        let was = self.is_waiting(slot);
        if was {
            self.waiting[slot / 64] &= !(1 << (slot % 64));
            self.left -= 1;
        }
        was
    }
}

#[derive(Debug)]
struct State {
    slots: Vec<Slot>,
    pending: VecDeque<Pending>,
    target: Option<u32>,
}

#[derive(Debug)]
struct Track {
    name: String,
    update_latency: AtomicHistogram,
    endpoint_latency: AtomicHistogram,
    fanout: AtomicHistogram,
    state: Mutex<State>,
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    // Clock skew between churn's and this host's clocks can make this negative: clamp.
    to.duration_since(from)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// The correlation state of every watched service.
#[derive(Debug)]
pub struct Correlator {
    tracks: Vec<Track>,
    by_name: HashMap<String, usize>,
    metrics: Metrics,
    started: SystemTime,
    converge_timeout: Duration,
}

impl Correlator {
    /// `services`: (name, slots) per service, in the order streams refer to them.
    pub fn new(
        services: &[(String, u32)],
        metrics: Metrics,
        started: SystemTime,
        converge_timeout: Duration,
    ) -> Self {
        let tracks: Vec<Track> = services
            .iter()
            .map(|(name, slots)| {
                let label = Metrics::service(name);
                Track {
                    name: name.clone(),
                    update_latency: metrics.update_latency.get_or_create(&label).clone(),
                    endpoint_latency: metrics.endpoint_latency.get_or_create(&label).clone(),
                    fanout: metrics.fanout_completion.get_or_create(&label).clone(),
                    state: Mutex::new(State {
                        slots: vec![
                            Slot {
                                count: 0,
                                connected: false,
                                changed_at: SystemTime::UNIX_EPOCH,
                            };
                            *slots as usize
                        ],
                        pending: VecDeque::new(),
                        target: None,
                    }),
                }
            })
            .collect();
        let by_name = tracks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Self {
            tracks,
            by_name,
            metrics,
            started,
            converge_timeout,
        }
    }

    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    fn finish(track: &Track, st: &mut State) {
        st.pending.retain(|p| {
            if p.left > 0 {
                return true;
            }
            if !p.superseded {
                track.fanout.observe(secs_between(p.time, p.last_converged));
            }
            false
        });
    }

    /// Resolves the newest event slot `i` converged on at `at`, superseding older ones.
    fn converge(track: &Track, st: &mut State, i: usize, at: SystemTime) {
        let count = st.slots[i].count;
        let Some(k) = st
            .pending
            .iter()
            .rposition(|p| p.is_waiting(i) && p.target == count && p.time <= at)
        else {
            return;
        };
        for p in st.pending.iter_mut().take(k) {
            if p.clear(i) {
                p.superseded = true;
            }
        }
        let p = &mut st.pending[k];
        p.clear(i);
        p.last_converged = p.last_converged.max(at);
        track.update_latency.observe(secs_between(p.time, at));
    }

    /// A scale event from the watch.
    pub fn event(&self, e: &ScaleEvent) {
        let Some(&idx) = self.by_name.get(&e.service) else {
            return;
        };
        let track = &self.tracks[idx];
        let mut g = track.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *g;
        st.target = Some(e.replicas);
        if e.time < self.started {
            return;
        }
        let n = st.slots.len();
        let mut waiting = vec![u64::MAX; n.div_ceil(64)];
        if !n.is_multiple_of(64) {
            *waiting.last_mut().expect("n > 0") = (1u64 << (n % 64)) - 1;
        }
        st.pending.push_back(Pending {
            target: e.replicas,
            time: e.time,
            arrived: Instant::now(),
            waiting,
            left: n as u32,
            superseded: false,
            last_converged: e.time,
        });
        // Slots that got there before the event reached us.
        for i in 0..n {
            let s = st.slots[i];
            if s.count == e.replicas && s.changed_at >= e.time {
                Self::converge(track, st, i, s.changed_at);
            }
        }
        Self::finish(track, st);
    }

    /// A stream of slot `slot` applied an update: `change` to a set now `count` long.
    pub fn observe(&self, service: usize, slot: u32, change: Change, count: u32, now: SystemTime) {
        let track = &self.tracks[service];
        let i = slot as usize;
        let mut g = track.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *g;
        let s = &mut st.slots[i];
        s.connected = true;
        if s.count == count && change.endpoints() == 0 {
            return;
        }
        s.count = count;
        s.changed_at = now;
        if let Some(p) = st
            .pending
            .iter()
            .rev()
            .find(|p| p.is_waiting(i) && p.time <= now)
        {
            track
                .endpoint_latency
                .observe_n(secs_between(p.time, now), u64::from(change.endpoints()));
        }
        Self::converge(track, st, i, now);
        Self::finish(track, st);
    }

    /// A stream of the slot ended; the next one starts from an empty set.
    pub fn disconnected(&self, service: usize, slot: u32) {
        let mut g = self.tracks[service]
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        g.slots[slot as usize].connected = false;
    }

    /// Counts events past the convergence window and refreshes the endpoint gauges.
    pub fn sweep(&self) {
        let now = Instant::now();
        for track in &self.tracks {
            let mut g = track.state.lock().unwrap_or_else(|e| e.into_inner());
            let st = &mut *g;
            let before = st.pending.len();
            st.pending
                .retain(|p| now.duration_since(p.arrived) < self.converge_timeout);
            let expired = before - st.pending.len();
            if expired > 0 {
                self.metrics
                    .events_unobserved
                    .get_or_create(&Metrics::service(&track.name))
                    .inc_by(expired as u64);
            }
            // The slowest connected slot: furthest from the target (or the smallest set).
            let slowest = st
                .slots
                .iter()
                .filter(|s| s.connected)
                .map(|s| s.count)
                .max_by_key(|c| match st.target {
                    Some(t) => (u64::from(c.abs_diff(t)), u64::MAX - u64::from(*c)),
                    None => (0, u64::MAX - u64::from(*c)),
                });
            self.metrics
                .endpoints_observed
                .get_or_create(&Metrics::service(&track.name))
                .set(i64::from(slowest.unwrap_or(0)));
        }
    }

    /// Events still waiting for some slot, per service name.
    pub fn pending(&self) -> Vec<(String, usize)> {
        self.tracks
            .iter()
            .map(|t| {
                let g = t.state.lock().unwrap_or_else(|e| e.into_inner());
                (t.name.clone(), g.pending.len())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000) + Duration::from_millis(ms)
    }

    fn ev(seq: u64, replicas: u32, ms: u64) -> ScaleEvent {
        ScaleEvent {
            service: "svc".into(),
            run: "r".into(),
            seq,
            replicas,
            time: at(ms),
        }
    }

    fn add(n: u32) -> Change {
        Change {
            added: n,
            removed: 0,
        }
    }

    /// `h` of service `svc` holds `count` observations summing to `sum` seconds.
    fn assert_seen(h: &crate::metrics::HistFamily, count: u64, sum: f64) {
        let h = h.get_or_create(&Metrics::service("svc")).clone();
        assert_eq!(h.count(), count);
        assert!((h.sum() - sum).abs() < 1e-6, "{} != {sum}", h.sum());
    }

    fn setup(slots: u32) -> (Correlator, Metrics) {
        let m = Metrics::default();
        let c = Correlator::new(
            &[("svc".into(), slots)],
            m.clone(),
            at(0),
            Duration::from_secs(60),
        );
        (c, m)
    }

    #[tokio::test]
    async fn per_stream_convergence_fanout_and_per_endpoint_latency() {
        let (c, m) = setup(2);
        c.observe(0, 0, add(2), 2, at(5));
        c.observe(0, 1, add(2), 2, at(5));
        c.event(&ev(1, 5, 100));
        // Slot 0 gets there in two steps, slot 1 in one.
        c.observe(0, 0, add(1), 3, at(200));
        c.observe(0, 0, add(2), 5, at(400));
        assert_eq!(c.pending()[0].1, 1);
        c.observe(0, 1, add(3), 5, at(1100));
        assert_eq!(c.pending()[0].1, 0);
        assert_seen(&m.update_latency, 2, 0.3 + 1.0);
        assert_seen(&m.endpoint_latency, 1 + 2 + 3, 0.1 + 2.0 * 0.3 + 3.0 * 1.0);
        assert_seen(&m.fanout_completion, 1, 1.0);
    }

    #[tokio::test]
    async fn superseded_events_get_no_fanout_and_baseline_is_not_timed() {
        let (c, m) = setup(1);
        let mut old = ev(0, 3, 0);
        old.time = at(0) - Duration::from_secs(10);
        c.event(&old);
        assert_eq!(c.pending()[0].1, 0, "before start: baseline");
        c.observe(0, 0, add(3), 3, at(10));
        c.event(&ev(1, 10, 100));
        c.event(&ev(2, 3, 200));
        // Slot never reached 10; it is back at 3 (a later change) at 300.
        c.observe(
            0,
            0,
            Change {
                added: 1,
                removed: 1,
            },
            3,
            at(300),
        );
        assert_eq!(c.pending()[0].1, 0);
        // Event 2 converged (0.1 s); event 1 was superseded: no latency, no fan-out.
        assert_seen(&m.update_latency, 1, 0.1);
        assert_seen(&m.fanout_completion, 1, 0.1);
    }

    #[tokio::test]
    async fn a_late_event_finds_slots_already_converged() {
        let (c, m) = setup(2);
        c.observe(0, 0, add(4), 4, at(300));
        c.observe(0, 1, add(4), 4, at(350));
        c.event(&ev(1, 4, 100));
        assert_eq!(c.pending()[0].1, 0);
        assert_seen(&m.fanout_completion, 1, 0.25);
    }

    #[tokio::test(start_paused = true)]
    async fn events_not_reached_in_time_are_counted_unobserved() {
        let (c, m) = setup(3);
        c.observe(0, 0, add(1), 1, at(1));
        c.observe(0, 1, add(1), 1, at(1));
        c.event(&ev(1, 2, 10));
        c.observe(0, 0, add(1), 2, at(20));
        c.sweep();
        let s = Metrics::service("svc");
        assert_eq!(
            m.endpoints_observed.get_or_create(&s).get(),
            1,
            "slot 1 lags"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        c.sweep();
        assert_eq!(m.events_unobserved.get_or_create(&s).get(), 1);
        assert_eq!(c.pending()[0].1, 0);
    }
}
