//! Function and location ids to what the walk keeps of them.

use std::collections::HashMap;

/// id → value. Go numbers functions and locations 1..n, so a Vec indexed by id is the
/// common case (a hash lookup per frame was most of the analysis time); sparse ids from
/// other producers fall back to a HashMap.
pub(super) enum IdMap<T> {
    Dense(Vec<Option<T>>),
    Sparse(HashMap<u64, T>),
}

impl<T: Copy> IdMap<T> {
    pub(super) fn new(ids: impl Iterator<Item = u64> + Clone) -> Self {
        let n = ids.clone().count();
        let max = ids.max().unwrap_or(0);
        if max <= 4 * n as u64 + 1024 {
            IdMap::Dense(vec![None; max as usize + 1])
        } else {
            IdMap::Sparse(HashMap::with_capacity(n))
        }
    }

    pub(super) fn insert(&mut self, id: u64, v: T) {
        match self {
            IdMap::Dense(d) => d[id as usize] = Some(v),
            IdMap::Sparse(m) => {
                m.insert(id, v);
            }
        }
    }

    pub(super) fn get(&self, id: u64) -> Option<T> {
        match self {
            IdMap::Dense(d) => usize::try_from(id).ok().and_then(|i| d.get(i).copied()?),
            IdMap::Sparse(m) => m.get(&id).copied(),
        }
    }
}
