//! Writes the catalogue's declarations from its data files: `metrics/<module>.toml` becomes
//! `$OUT_DIR/<module>.rs`, which `src/<module>.rs` includes. `rules.toml` lists recorded and
//! external series (see `rules.rs`); every other file is a daemon's (see `daemon.rs`).
//!
//! A mistake in a data file stops the build with the file, the line and the field.

mod daemon;
mod rules;
mod source;
mod syntax;

use std::path::{Path, PathBuf};

use source::Source;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let metrics = manifest.join("metrics");
    // The directory as well as each file, so that a data file added later reruns this.
    println!("cargo:rerun-if-changed={}", metrics.display());
    println!("cargo:rerun-if-changed=build");
    let errors: Vec<String> = data_files(&metrics)
        .into_iter()
        .filter_map(|path| {
            println!("cargo:rerun-if-changed={}", path.display());
            write(&path, &out_dir).err()
        })
        .collect();
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        std::process::exit(1);
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: cannot list the data files: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn write(path: &Path, out_dir: &Path) -> Result<(), String> {
    let source = Source::read(path)?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))?;
    let body = match stem {
        "rules" => rules::generate(&source)?,
        _ => daemon::generate(&source)?,
    };
    let header = format!(
        "// Written by the catalogue's build script from metrics/{stem}.toml: edit that file.\n\n"
    );
    let target = out_dir.join(format!("{stem}.rs"));
    std::fs::write(&target, header + &body)
        .map_err(|e| format!("{}: cannot write: {e}", target.display()))
}
