//! Raw heap profiles kept on disk exactly as fetched, named
//! `<testid>-<unix>-<pod>-heap.pb.gz` like the Knative plan's `results/heap/` files, so that
//! `go tool pprof -diff_base` and `redline pprof diff` read them directly.
//!
//! One sample a second from a handful of pods fills a disk in a long soak, so the archive
//! keeps a count and a size cap and removes the oldest files first. Files already in the
//! directory from earlier runs count against the cap too: the cap is about the disk.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const SUFFIX: &str = "-heap.pb.gz";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub max_files: usize,
}

#[derive(Debug)]
pub struct Archive {
    config: ArchiveConfig,
    /// Oldest first.
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    removed: u64,
}

/// Pod names are DNS labels already; static targets are `host:port`. Anything outside
/// `[A-Za-z0-9._-]` becomes `_` so a name never escapes the directory.
pub fn sanitize(part: &str) -> String {
    let s: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "_".to_string()
    } else {
        s
    }
}

pub fn file_name(testid: &str, unix: u64, pod: &str) -> String {
    format!("{}-{unix}-{}{SUFFIX}", sanitize(testid), sanitize(pod))
}

impl Archive {
    /// Creates the directory if needed and takes stock of the profiles already in it.
    pub fn open(config: ArchiveConfig) -> Result<Self, ArchiveError> {
        fs::create_dir_all(&config.dir).map_err(io(&config.dir))?;
        let mut existing = Vec::new();
        for entry in fs::read_dir(&config.dir).map_err(io(&config.dir))? {
            let entry = entry.map_err(io(&config.dir))?;
            let name = entry.file_name();
            if !name.to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            let meta = entry.metadata().map_err(io(&entry.path()))?;
            if !meta.is_file() {
                continue;
            }
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            existing.push((mtime, entry.path(), meta.len()));
        }
        existing.sort();
        let mut archive = Archive {
            config,
            bytes: existing.iter().map(|e| e.2).sum(),
            files: existing.into_iter().map(|(_, p, len)| (p, len)).collect(),
            removed: 0,
        };
        archive.enforce_cap()?;
        Ok(archive)
    }

    /// Writes one profile (via a temporary name and a rename, so a reader never sees half a
    /// file) and removes the oldest files until the cap holds again.
    pub fn save(
        &mut self,
        testid: &str,
        unix: u64,
        pod: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, ArchiveError> {
        let path = self.config.dir.join(file_name(testid, unix, pod));
        let tmp = path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // Two samples of one pod within the same second share a name; the newer replaces
        // the older, so account for it once.
        if let Some(i) = self.files.iter().position(|(p, _)| *p == path) {
            let (_, len) = self.files.remove(i).expect("index from position");
            self.bytes -= len;
        }
        self.files.push_back((path.clone(), bytes.len() as u64));
        self.bytes += bytes.len() as u64;
        self.enforce_cap()?;
        Ok(path)
    }

    fn enforce_cap(&mut self) -> Result<(), ArchiveError> {
        while self.files.len() > self.config.max_files || self.bytes > self.config.max_bytes {
            let Some((path, len)) = self.files.pop_front() else {
                break;
            };
            match fs::remove_file(&path) {
                Ok(()) => {}
                // Someone else cleaned up already; the space is free either way.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
            self.bytes -= len;
            self.removed += 1;
        }
        Ok(())
    }

    pub fn files(&self) -> usize {
        self.files.len()
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Files removed to keep the cap since this archive was opened.
    pub fn removed(&self) -> u64 {
        self.removed
    }
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_match_the_knative_plan_and_cannot_escape() {
        assert_eq!(
            file_name("run1", 1680616482, "activator-5c9d-x7"),
            "run1-1680616482-activator-5c9d-x7-heap.pb.gz"
        );
        assert_eq!(
            file_name("a/b", 1, "127.0.0.1:8008"),
            "a_b-1-127.0.0.1_8008-heap.pb.gz"
        );
        assert_eq!(sanitize(".."), "_");
    }

    #[test]
    fn count_cap_removes_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::open(ArchiveConfig {
            dir: dir.path().into(),
            max_bytes: u64::MAX,
            max_files: 3,
        })
        .unwrap();
        for t in 0..5u64 {
            a.save("t", 100 + t, "pod", b"0123456789").unwrap();
            assert!(a.files() <= 3);
        }
        assert_eq!(
            on_disk(dir.path()),
            [
                "t-102-pod-heap.pb.gz",
                "t-103-pod-heap.pb.gz",
                "t-104-pod-heap.pb.gz"
            ]
        );
        assert_eq!(a.removed(), 2);
        assert_eq!(a.bytes(), 30);
    }

    #[test]
    fn size_cap_holds_and_counts_files_from_earlier_runs() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old-1-pod-heap.pb.gz"), [0u8; 60]).unwrap();
        fs::write(dir.path().join("unrelated.txt"), [0u8; 500]).unwrap();
        let mut a = Archive::open(ArchiveConfig {
            dir: dir.path().into(),
            max_bytes: 100,
            max_files: 1000,
        })
        .unwrap();
        assert_eq!((a.files(), a.bytes()), (1, 60));
        a.save("t", 1, "p", &[1u8; 30]).unwrap();
        assert_eq!(a.files(), 2, "90 bytes fit");
        a.save("t", 2, "p", &[1u8; 30]).unwrap();
        // 120 > 100: the earlier run's file goes first.
        assert_eq!(
            on_disk(dir.path()),
            ["t-1-p-heap.pb.gz", "t-2-p-heap.pb.gz", "unrelated.txt"]
        );
        assert_eq!(a.bytes(), 60);
        // Same pod, same second: replaced, counted once.
        a.save("t", 2, "p", &[1u8; 40]).unwrap();
        assert_eq!((a.files(), a.bytes()), (2, 70));
        let total: u64 = a.paths().map(|p| fs::metadata(p).unwrap().len()).sum();
        assert_eq!(total, a.bytes());
    }
}
