//! A tiny key-value store for the chaos prober's lost-write check: it writes, waits for the
//! ack, restarts the target, and reads back. With `--kv-file` an ack means the write reached
//! the disk (append + fsync first); without it, or with `--kv-ack-before-write`, acks are
//! given from memory and a restart loses them — the bug the check exists to catch.
//!
//! The file is a log of checksummed records. A torn tail (a crash mid-append) belongs to a
//! write that was never acknowledged, so loading stops there and truncates it away.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::TargetError;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const HEADER: usize = 1 + 4 + 4;
const CHECKSUM: usize = 8;

pub(crate) struct Kv {
    map: Mutex<HashMap<String, Bytes>>,
    /// Present only when acknowledged writes must survive a restart.
    log: Option<Mutex<File>>,
}

impl Kv {
    pub(crate) fn memory() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            log: None,
        }
    }

    /// Loads `path` when given; keeps appending to it unless `ack_before_write`.
    pub(crate) fn open(path: Option<&Path>, ack_before_write: bool) -> Result<Self, TargetError> {
        let Some(path) = path else {
            return Ok(Self::memory());
        };
        let err = |source| TargetError::Kv {
            path: path.to_owned(),
            source,
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(err)?;
        if !existed {
            sync_parent(path).map_err(err)?;
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(err)?;
        let (map, good) = replay(&data);
        if good < data.len() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = data.len() - good,
                "kv log has a torn tail (an unacknowledged write); truncating it"
            );
            file.set_len(good as u64).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        tracing::info!(path = %path.display(), keys = map.len(), ack_before_write, "kv loaded");
        Ok(Self {
            map: Mutex::new(map),
            log: (!ack_before_write).then(|| Mutex::new(file)),
        })
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        self.lock_map().get(key).cloned()
    }

    /// Returns whether the key is new. Resolves only once the write is as durable as promised.
    pub(crate) async fn put(self: &Arc<Self>, key: String, value: Bytes) -> io::Result<bool> {
        self.apply(PUT, key, value).await
    }

    /// Returns whether the key existed.
    pub(crate) async fn delete(self: &Arc<Self>, key: String) -> io::Result<bool> {
        self.apply(DELETE, key, Bytes::new()).await
    }

    async fn apply(self: &Arc<Self>, op: u8, key: String, value: Bytes) -> io::Result<bool> {
        if self.log.is_none() {
            return Ok(self.apply_in_memory(op, key, value));
        }
        let kv = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let log = kv.log.as_ref().expect("checked above");
            let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
            file.write_all(&encode(op, &key, &value))?;
            file.sync_data()?;
            // Applied while the log lock is held, so memory and log see writes in one order.
            Ok(kv.apply_in_memory(op, key, value))
        })
        .await
        .map_err(io::Error::other)?
    }

    fn apply_in_memory(&self, op: u8, key: String, value: Bytes) -> bool {
        let mut map = self.lock_map();
        match op {
            PUT => map.insert(key, value).is_none(),
            _ => map.remove(&key).is_some(),
        }
    }

    fn lock_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    // A new file's directory entry must reach the disk too, or the first acked write can
    // vanish with the file after a crash.
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    File::open(parent)?.sync_all()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn encode(op: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(HEADER + key.len() + value.len() + CHECKSUM);
    rec.push(op);
    rec.extend_from_slice(&(key.len() as u32).to_le_bytes());
    rec.extend_from_slice(&(value.len() as u32).to_le_bytes());
    rec.extend_from_slice(key.as_bytes());
    rec.extend_from_slice(value);
    let sum = fnv1a(&rec);
    rec.extend_from_slice(&sum.to_le_bytes());
    rec
}

/// Replays records up to the first incomplete or corrupt one; returns the map and the
/// length of the good prefix.
fn replay(data: &[u8]) -> (HashMap<String, Bytes>, usize) {
    let mut map = HashMap::new();
    let mut pos = 0;
    while let Some((op, key, value, len)) = decode(&data[pos..]) {
        match op {
            PUT => {
                map.insert(key, Bytes::copy_from_slice(value));
            }
            _ => {
                map.remove(&key);
            }
        }
        pos += len;
    }
    (map, pos)
}

fn decode(rec: &[u8]) -> Option<(u8, String, &[u8], usize)> {
    let header = rec.get(..HEADER)?;
    let op = header[0];
    let klen = u32::from_le_bytes(header[1..5].try_into().ok()?) as usize;
    let vlen = u32::from_le_bytes(header[5..9].try_into().ok()?) as usize;
    let body_end = HEADER.checked_add(klen)?.checked_add(vlen)?;
    let sum = rec.get(body_end..body_end.checked_add(CHECKSUM)?)?;
    if fnv1a(&rec[..body_end]) != u64::from_le_bytes(sum.try_into().ok()?)
        || !(op == PUT || op == DELETE)
    {
        return None;
    }
    let key = String::from_utf8(rec[HEADER..HEADER + klen].to_vec()).ok()?;
    Some((op, key, &rec[HEADER + klen..body_end], body_end + CHECKSUM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_put_get_delete() {
        let kv = Arc::new(Kv::memory());
        assert!(kv.put("a".into(), Bytes::from_static(b"1")).await.unwrap());
        assert!(!kv.put("a".into(), Bytes::from_static(b"2")).await.unwrap());
        assert_eq!(kv.get("a").as_deref(), Some(&b"2"[..]));
        assert!(kv.delete("a".into()).await.unwrap());
        assert!(!kv.delete("a".into()).await.unwrap());
        assert_eq!(kv.get("a"), None);
    }

    #[tokio::test]
    async fn durable_log_replays_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.log");
        {
            let kv = Arc::new(Kv::open(Some(&path), false).unwrap());
            kv.put("keep".into(), Bytes::from_static(b"v1"))
                .await
                .unwrap();
            kv.put("gone".into(), Bytes::from_static(b"x"))
                .await
                .unwrap();
            kv.delete("gone".into()).await.unwrap();
            kv.put("keep".into(), Bytes::from_static(b"v2"))
                .await
                .unwrap();
        }
        let good_len = std::fs::metadata(&path).unwrap().len();
        // A crash in the middle of appending a record.
        let torn = encode(PUT, "torn", b"never acked");
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&torn[..torn.len() - 3])
            .unwrap();

        let kv = Arc::new(Kv::open(Some(&path), false).unwrap());
        assert_eq!(kv.get("keep").as_deref(), Some(&b"v2"[..]));
        assert_eq!(kv.get("gone"), None);
        assert_eq!(kv.get("torn"), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        // Appends after the truncation replay cleanly.
        kv.put("after".into(), Bytes::from_static(b"ok"))
            .await
            .unwrap();
        let again = Kv::open(Some(&path), false).unwrap();
        assert_eq!(again.get("after").as_deref(), Some(&b"ok"[..]));
    }

    #[test]
    fn corrupt_record_stops_replay() {
        let mut data = encode(PUT, "a", b"1");
        let second = data.len();
        data.extend(encode(PUT, "b", b"2"));
        data[second + HEADER] ^= 0xff; // flip a byte of "b"
        let (map, good) = replay(&data);
        assert_eq!(good, second);
        assert!(map.contains_key("a") && !map.contains_key("b"));
    }

    #[tokio::test]
    async fn ack_before_write_loads_but_does_not_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.log");
        Arc::new(Kv::open(Some(&path), false).unwrap())
            .put("old".into(), Bytes::from_static(b"1"))
            .await
            .unwrap();
        let sloppy = Arc::new(Kv::open(Some(&path), true).unwrap());
        assert!(sloppy.get("old").is_some());
        sloppy
            .put("new".into(), Bytes::from_static(b"2"))
            .await
            .unwrap();
        assert!(sloppy.get("new").is_some());
        let reopened = Kv::open(Some(&path), false).unwrap();
        assert!(reopened.get("old").is_some());
        assert_eq!(reopened.get("new"), None);
    }
}
