//! Endpoint sets shared by the streams of one service.
//!
//! Every stream of a service normally receives the same updates, so 1,000 streams held
//! 1,000 equal copies of one set (at 100,000 streams that copy was most of the process).
//! Here a stream holds only a pointer to an immutable [`Frozen`] set. Applying an update
//! to a set is memoised on that set: (set, canonical update) -> next set, so the first
//! stream to receive an update computes the next set and every later stream in the same
//! state with the same update takes the result. A stream's set is still exactly what its
//! own updates built (the transition is a pure function of the set and the update, and
//! the memo compares the whole update, not a hash of it); streams whose histories differ
//! hold different sets, and a set built along another path but equal in content is found
//! by content and shared too.
//!
//! Sets are reference counted: a set no stream holds is freed, and the memo entries and
//! content index point to sets weakly, so they keep nothing alive.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::endpoints::{Change, Delta, EndpointSet};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One memoised transition out of a set.
#[derive(Debug)]
struct Step {
    delta: Delta,
    to: Weak<Frozen>,
    change: Change,
}

/// An immutable endpoint set and the transitions taken out of it so far.
#[derive(Debug)]
pub struct Frozen {
    set: EndpointSet,
    steps: Mutex<Vec<Step>>,
}

impl Frozen {
    pub fn set(&self) -> &EndpointSet {
        &self.set
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[derive(Debug, Default)]
struct Index {
    by_content: HashMap<u64, Vec<Weak<Frozen>>>,
    entries: usize,
    prune_at: usize,
}

/// The sets of one service's streams.
#[derive(Debug)]
pub struct ServiceSets {
    empty: Arc<Frozen>,
    index: Mutex<Index>,
    /// Fixed keys: fingerprints are compared only within this process.
    hasher: std::hash::BuildHasherDefault<std::hash::DefaultHasher>,
}

impl Default for ServiceSets {
    fn default() -> Self {
        let sets = Self {
            empty: Arc::new(Frozen {
                set: EndpointSet::default(),
                steps: Mutex::default(),
            }),
            index: Mutex::default(),
            hasher: Default::default(),
        };
        let fp = sets.fingerprint(&sets.empty.set);
        let mut ix = lock(&sets.index);
        ix.by_content
            .entry(fp)
            .or_default()
            .push(Arc::downgrade(&sets.empty));
        ix.entries = 1;
        drop(ix);
        sets
    }
}

impl ServiceSets {
    /// What a stream holds before its first update.
    pub fn empty(&self) -> Arc<Frozen> {
        self.empty.clone()
    }

    /// The set `from` becomes with `delta`, and what the update changed.
    pub fn apply(&self, from: &Arc<Frozen>, delta: &Delta) -> (Arc<Frozen>, Change) {
        if *delta == Delta::Nothing {
            return (from.clone(), Change::default());
        }
        // Held while computing: the other streams with this update wait for the result
        // instead of computing it again.
        let mut steps = lock(&from.steps);
        if let Some(s) = steps.iter().find(|s| s.delta == *delta)
            && let Some(to) = s.to.upgrade()
        {
            return (to, s.change);
        }
        let mut set = from.set.clone();
        let change = set.apply_delta(delta);
        let to = if set == from.set {
            from.clone()
        } else {
            set.shrink_to_fit();
            self.intern(set)
        };
        steps.retain(|s| s.to.strong_count() > 0 && s.delta != *delta);
        steps.push(Step {
            delta: delta.clone(),
            to: Arc::downgrade(&to),
            change,
        });
        (to, change)
    }

    /// Sets alive now (held by some stream, or the empty set).
    pub fn live_sets(&self) -> usize {
        lock(&self.index)
            .by_content
            .values()
            .flatten()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Order-independent: the sum of the elements' hashes.
    fn fingerprint(&self, set: &EndpointSet) -> u64 {
        let mut fp = self.hasher.hash_one(set.exists);
        for a in set.addrs() {
            fp = fp.wrapping_add(self.hasher.hash_one(a));
        }
        fp
    }

    /// The live set equal to `set`, or `set` itself, now indexed.
    fn intern(&self, set: EndpointSet) -> Arc<Frozen> {
        let fp = self.fingerprint(&set);
        let mut ix = lock(&self.index);
        if let Some(found) = ix
            .by_content
            .get(&fp)
            .and_then(|same| same.iter().filter_map(Weak::upgrade).find(|f| f.set == set))
        {
            return found;
        }
        let f = Arc::new(Frozen {
            set,
            steps: Mutex::default(),
        });
        ix.by_content
            .entry(fp)
            .or_default()
            .push(Arc::downgrade(&f));
        ix.entries += 1;
        // Amortised clean-up of sets no stream holds any more.
        if ix.entries >= ix.prune_at {
            ix.by_content.retain(|_, v| {
                v.retain(|w| w.strong_count() > 0);
                !v.is_empty()
            });
            ix.entries = ix.by_content.values().map(Vec::len).sum();
            ix.prune_at = 2 * ix.entries + 64;
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_updates::{self as updates, none};
    use linkerd2_proxy_api::destination::Update;
    use linkerd2_proxy_api::net::TcpAddress;
    use std::net::SocketAddr;

    fn addr(i: u32) -> TcpAddress {
        let a: SocketAddr = if i >= 1000 {
            format!("[fd00::{i:x}]:80").parse().unwrap()
        } else {
            format!("10.0.{}.{}:80", i / 256, i % 256).parse().unwrap()
        };
        TcpAddress::from(a)
    }

    fn add(ids: impl IntoIterator<Item = u32>) -> Update {
        updates::add(ids.into_iter().map(addr))
    }

    fn remove(ids: impl IntoIterator<Item = u32>) -> Update {
        updates::remove(ids.into_iter().map(addr))
    }

    /// A stream's set through the shared sets, beside the same stream's own copy.
    struct Stream {
        shared: Arc<Frozen>,
        own: EndpointSet,
    }

    impl Stream {
        fn new(sets: &ServiceSets) -> Self {
            Self {
                shared: sets.empty(),
                own: EndpointSet::default(),
            }
        }

        fn apply(&mut self, sets: &ServiceSets, u: &Update) -> Change {
            let (next, change) = sets.apply(&self.shared, &Delta::of(u));
            self.shared = next;
            assert_eq!(change, self.own.apply(u), "the change a stream sees");
            assert_eq!(*self.shared.set(), self.own, "the set a stream holds");
            change
        }
    }

    #[test]
    fn streams_with_the_same_updates_share_one_set() {
        let sets = ServiceSets::default();
        let mut streams: Vec<Stream> = (0..50).map(|_| Stream::new(&sets)).collect();
        for s in &mut streams {
            assert_eq!(s.apply(&sets, &add(0..100)).added, 100);
        }
        assert!(
            streams
                .iter()
                .all(|s| Arc::ptr_eq(&s.shared, &streams[0].shared))
        );
        assert_eq!(sets.live_sets(), 2, "the empty set and the one of 100");
        for s in &mut streams {
            s.apply(&sets, &add(100..200));
            s.apply(&sets, &remove(0..50));
        }
        assert!(
            streams
                .iter()
                .all(|s| Arc::ptr_eq(&s.shared, &streams[0].shared))
        );
        assert_eq!(streams[0].shared.len(), 150);
        // The sets of 100 and 200 endpoints are held by no stream: freed.
        assert_eq!(sets.live_sets(), 2);
    }

    #[test]
    fn a_stream_with_other_updates_gets_its_own_set_and_the_others_keep_theirs() {
        let sets = ServiceSets::default();
        let mut a = Stream::new(&sets);
        let mut b = Stream::new(&sets);
        let mut c = Stream::new(&sets);
        for s in [&mut a, &mut b, &mut c] {
            s.apply(&sets, &add(0..10));
        }
        // b misses an update (a controller that dropped it): its set is its own.
        a.apply(&sets, &remove(0..3));
        c.apply(&sets, &remove(0..3));
        assert!(Arc::ptr_eq(&a.shared, &c.shared));
        assert!(!Arc::ptr_eq(&a.shared, &b.shared));
        assert_eq!((a.shared.len(), b.shared.len()), (7, 10));
        // Repeats and no-ops: a re-add of known addresses changes nothing and keeps the set.
        let before = a.shared.clone();
        assert_eq!(a.apply(&sets, &add(5..8)), Change::default());
        assert!(Arc::ptr_eq(&a.shared, &before));
        // Removing what is not there, removing everything, no_endpoints, and back.
        a.apply(&sets, &remove(100..110));
        a.apply(&sets, &remove(0..10));
        assert!(a.shared.is_empty());
        assert_eq!(a.apply(&sets, &none(false)).removed, 0);
        assert_eq!(a.shared.set().exists, Some(false));
        b.apply(&sets, &none(true));
        assert_eq!(b.shared.set().exists, Some(true));
        assert!(!Arc::ptr_eq(&a.shared, &b.shared), "exists differs");
        a.apply(&sets, &add([1000, 1001, 7]));
        b.apply(&sets, &add([7, 1001, 1000, 7]));
        assert!(
            Arc::ptr_eq(&a.shared, &b.shared),
            "same content by two paths, the addresses in another order: one set"
        );
        assert!(a.shared.set().contains(&"[fd00::3e8]:80".parse().unwrap()));
    }

    #[test]
    fn a_reconnected_stream_starts_empty_and_rejoins_the_shared_set() {
        let sets = ServiceSets::default();
        let mut a = Stream::new(&sets);
        a.apply(&sets, &add(0..20));
        a.apply(&sets, &remove(0..5));
        a.apply(&sets, &add(30..35));
        // A new stream gets the whole current set as one add.
        let mut b = Stream::new(&sets);
        b.apply(&sets, &add((5..20).chain(30..35).rev()));
        assert!(Arc::ptr_eq(&a.shared, &b.shared));
        drop(a);
        drop(b);
        assert_eq!(sets.live_sets(), 1, "only the empty set is left");
    }
}
