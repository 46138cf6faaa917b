//! The bounded on-disk buffer: write requests the in-memory queue had no room for, in arrival
//! order, replayed oldest first when it has room again.
//!
//! Segment files `seg-<id>.bin` hold records `[u32 len][u32 checksum][payload]` (little
//! endian); a `cursor` file says which record is next, so a relay restarted on the same
//! directory replays what the last one left behind. A record partly forwarded when the relay
//! stopped is replayed whole: Prometheus accepts a repeated sample with the same timestamp and
//! value. Writes are not fsynced: the buffer is for a receiver outage, not for a host crash.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const HEADER: u64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("disk buffer full: {bytes} + {record} bytes would exceed --buffer-max-bytes {max}")]
    Full { bytes: u64, record: u64, max: u64 },
    #[error("disk buffer record in {segment} at offset {offset} is corrupt: {what}")]
    Corrupt {
        segment: String,
        offset: u64,
        what: &'static str,
    },
    #[error("disk buffer: {0}")]
    Io(#[from] io::Error),
}

struct Segment {
    id: u64,
    len: u64,
}

pub struct Spill {
    dir: PathBuf,
    max_bytes: u64,
    segment_max: u64,
    /// Oldest first; the last one is appended to.
    segments: VecDeque<Segment>,
    append: Option<File>,
    /// The next record: segment id (always the front segment) and offset.
    read_offset: u64,
    read_file: Option<(u64, File)>,
    /// Bytes of all segment files on disk.
    bytes: u64,
    /// Bytes not yet consumed.
    pending: u64,
}

fn checksum(payload: &[u8]) -> u32 {
    // FNV-1a: enough to tell a torn or overwritten record from a good one.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in payload {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

fn read_record(file: &File, id: u64, offset: u64, len: u64) -> Result<Vec<u8>, SpillError> {
    let corrupt = |what| SpillError::Corrupt {
        segment: format!("seg-{id:020}.bin"),
        offset,
        what,
    };
    if len - offset < HEADER {
        return Err(corrupt("truncated header"));
    }
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, offset)?;
    let n = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
    let sum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len - offset - HEADER < n {
        return Err(corrupt("truncated record"));
    }
    let mut payload = vec![0u8; n as usize];
    file.read_exact_at(&mut payload, offset + HEADER)?;
    if checksum(&payload) != sum {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(payload)
}

impl Spill {
    /// Opens (creating) `dir` and picks up what a previous run left there.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut ids: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("seg-")?
                    .strip_suffix(".bin")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        let (cursor_id, cursor_offset) = fs::read_to_string(dir.join("cursor"))
            .ok()
            .and_then(|s| {
                let (a, b) = s.trim().split_once(' ')?;
                Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))
            })
            .unwrap_or((0, 0));
        let mut spill = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_max: (max_bytes / 8).clamp(HEADER + 1, 8 * 1024 * 1024),
            segments: VecDeque::new(),
            append: None,
            read_offset: 0,
            read_file: None,
            bytes: 0,
            pending: 0,
        };
        for id in ids {
            let path = spill.path(id);
            if id < cursor_id {
                fs::remove_file(&path)?;
                continue;
            }
            let len = fs::metadata(&path)?.len();
            spill.bytes += len;
            spill.pending += len;
            spill.segments.push_back(Segment { id, len });
        }
        if let Some(front) = spill.segments.front()
            && front.id == cursor_id
        {
            spill.read_offset = cursor_offset.min(front.len);
            spill.pending -= spill.read_offset;
        }
        if spill.pending == 0 {
            spill.reset()?;
        } else {
            tracing::info!(bytes = spill.pending, dir = %dir.display(), "k6-relay: replaying what the disk buffer holds from an earlier run");
        }
        Ok(spill)
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("seg-{id:020}.bin"))
    }

    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Bytes the segment files take on disk (what `--buffer-max-bytes` bounds).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn append(&mut self, payload: &[u8]) -> Result<(), SpillError> {
        let record = HEADER + payload.len() as u64;
        if self.bytes + record > self.max_bytes {
            return Err(SpillError::Full {
                bytes: self.bytes,
                record,
                max: self.max_bytes,
            });
        }
        let roll = match self.segments.back() {
            None => true,
            Some(s) => s.len > 0 && s.len + record > self.segment_max,
        };
        if roll || self.append.is_none() {
            let id = match (roll, self.segments.back()) {
                (true, Some(s)) => s.id + 1,
                (true, None) => 1,
                (false, Some(s)) => s.id,
                (false, None) => unreachable!("roll is true without segments"),
            };
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(id))?;
            if roll {
                self.segments.push_back(Segment { id, len: 0 });
            }
            self.append = Some(f);
        }
        let mut buf = Vec::with_capacity(record as usize);
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&checksum(payload).to_le_bytes());
        buf.extend_from_slice(payload);
        self.append
            .as_mut()
            .expect("opened above")
            .write_all(&buf)?;
        let back = self.segments.back_mut().expect("pushed above");
        back.len += record;
        self.bytes += record;
        self.pending += record;
        Ok(())
    }

    /// The oldest record not yet consumed, without consuming it.
    pub fn peek(&mut self) -> Result<Option<Vec<u8>>, SpillError> {
        loop {
            let Some(front) = self.segments.front() else {
                return Ok(None);
            };
            let (id, len) = (front.id, front.len);
            if self.read_offset >= len {
                if self.segments.len() == 1 {
                    return Ok(None);
                }
                self.drop_front()?;
                continue;
            }
            if self.read_file.as_ref().map(|(i, _)| *i) != Some(id) {
                self.read_file = Some((id, File::open(self.path(id))?));
            }
            let (_, file) = self.read_file.as_ref().expect("opened above");
            return read_record(file, id, self.read_offset, len).map(Some);
        }
    }

    /// Every record not yet consumed, oldest first, without consuming any (to count what is
    /// left at exit). Stops at the first corrupt record.
    pub fn pending_records(&self) -> Result<Vec<Vec<u8>>, SpillError> {
        let mut out = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            let file = File::open(self.path(seg.id))?;
            let mut offset = if i == 0 { self.read_offset } else { 0 };
            while offset < seg.len {
                let p = read_record(&file, seg.id, offset, seg.len)?;
                offset += HEADER + p.len() as u64;
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Consumes the record [`peek`](Self::peek) returned.
    pub fn consume(&mut self, payload_len: usize) -> io::Result<()> {
        let record = HEADER + payload_len as u64;
        self.read_offset += record;
        self.pending = self.pending.saturating_sub(record);
        if self.pending == 0 {
            return self.reset();
        }
        self.write_cursor()
    }

    /// Gives up on the rest of the front segment (after a corrupt record); returns the bytes
    /// skipped.
    pub fn skip_segment(&mut self) -> io::Result<u64> {
        let Some(front) = self.segments.front() else {
            return Ok(0);
        };
        let skipped = front.len.saturating_sub(self.read_offset);
        self.pending = self.pending.saturating_sub(skipped);
        self.read_offset = front.len;
        if self.segments.len() == 1 {
            self.reset()?;
        } else {
            self.drop_front()?;
        }
        Ok(skipped)
    }

    fn drop_front(&mut self) -> io::Result<()> {
        let front = self.segments.pop_front().expect("caller checked");
        self.read_file = None;
        self.read_offset = 0;
        self.bytes -= front.len;
        fs::remove_file(self.path(front.id))?;
        self.write_cursor()
    }

    fn write_cursor(&self) -> io::Result<()> {
        let id = self.segments.front().map(|s| s.id).unwrap_or(0);
        fs::write(
            self.dir.join("cursor"),
            format!("{id} {}\n", self.read_offset),
        )
    }

    /// Everything consumed: remove the files and start over small.
    fn reset(&mut self) -> io::Result<()> {
        self.append = None;
        self.read_file = None;
        for s in self.segments.drain(..) {
            match fs::remove_file(self.dir.join(format!("seg-{:020}.bin", s.id))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        match fs::remove_file(self.dir.join("cursor")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.read_offset = 0;
        self.bytes = 0;
        self.pending = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Spill) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(p) = s.peek().unwrap() {
            s.consume(p.len()).unwrap();
            out.push(p);
        }
        out
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_the_files_go_away() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path(), 64 * 1024).unwrap();
        assert!(s.is_empty());
        let records: Vec<Vec<u8>> = (0..200u32)
            .map(|i| vec![i as u8; 100 + i as usize])
            .collect();
        for r in &records {
            s.append(r).unwrap();
        }
        assert!(!s.is_empty());
        assert!(
            fs::read_dir(dir.path()).unwrap().count() > 2,
            "segments roll over"
        );
        assert_eq!(drain(&mut s), records);
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_bound_is_kept_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path(), 1000).unwrap();
        s.append(&[1; 500]).unwrap();
        let e = s.append(&[2; 500]).unwrap_err();
        assert!(matches!(e, SpillError::Full { .. }), "{e}");
        assert!(e.to_string().contains("--buffer-max-bytes"), "{e}");
        // Consuming frees room again.
        let p = s.peek().unwrap().unwrap();
        s.consume(p.len()).unwrap();
        s.append(&[2; 500]).unwrap();
    }

    #[test]
    fn a_restart_replays_what_was_left_from_the_cursor_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path(), 64 * 1024).unwrap();
        for i in 0..50u8 {
            s.append(&[i; 300]).unwrap();
        }
        for _ in 0..20 {
            let p = s.peek().unwrap().unwrap();
            s.consume(p.len()).unwrap();
        }
        drop(s);
        let mut again = Spill::open(dir.path(), 64 * 1024).unwrap();
        let rest = drain(&mut again);
        assert_eq!(rest.len(), 30);
        assert_eq!(rest[0], vec![20u8; 300]);
    }

    #[test]
    fn a_torn_or_corrupt_record_is_reported_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path(), 64 * 1024).unwrap();
        s.append(&[7; 100]).unwrap();
        drop(s);
        let seg = fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = fs::read(&seg).unwrap();
        bytes[50] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        let mut s = Spill::open(dir.path(), 64 * 1024).unwrap();
        let e = s.peek().unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
        assert_eq!(s.skip_segment().unwrap(), 108);
        assert!(s.is_empty());
        fs::write(&seg, &bytes[..60]).unwrap();
        let mut s = Spill::open(dir.path(), 64 * 1024).unwrap();
        assert!(s.peek().unwrap_err().to_string().contains("truncated"));
    }
}
