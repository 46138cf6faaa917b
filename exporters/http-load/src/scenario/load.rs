//! Loading a scenario file: read, parse (serde_norway's line and column), validate (the
//! field's line found in the text), and resolve relative paths against the file's folder.

use std::path::{Path, PathBuf};

use super::locate::{locate_nearest, strip_location};
use super::model::ScenarioFile;
use super::request_spec::Body;

/// A scenario file that failed to load; always names the file, and the line when known.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}{}: {field}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        field: String,
        message: String,
    },
}

impl ScenarioFile {
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file = Self::parse(&text, path)?;
        // Relative body and token files are relative to the scenario file.
        if let Some(dir) = path.parent() {
            file.resolve_paths(dir);
        }
        Ok(file)
    }

    /// Parses and validates; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ScenarioError> {
        let file: Self = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ScenarioError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }
        })?;
        file.validate()
            .map_err(|(field, message)| ScenarioError::Invalid {
                path: path.to_owned(),
                line: locate_nearest(text, &field),
                field,
                message,
            })?;
        Ok(file)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        if let Some(t) = &mut self.tokens {
            t.file.as_mut().map(fix);
            t.dir.as_mut().map(fix);
        }
        for s in self.scenarios.values_mut() {
            for r in &mut s.requests {
                match &mut r.body {
                    Some(Body::File(p)) => fix(p),
                    Some(Body::Files(ps)) => ps.iter_mut().for_each(fix),
                    _ => {}
                }
            }
        }
    }
}

/// [`ScenarioFile::parse`] of `text` as the file `s.yaml`, for the tests of each part.
#[cfg(test)]
pub(super) fn parse_as_s_yaml(text: &str) -> Result<ScenarioFile, ScenarioError> {
    ScenarioFile::parse(text, Path::new("s.yaml"))
}

#[cfg(test)]
mod tests {
    use super::parse_as_s_yaml as parse;

    #[test]
    fn unknown_field_names_file_path_and_line() {
        let e = parse("scenarios:\n  burst:\n    executor: shared-iterations\n    vu: 10\n    requests: [{url: 'http://x/'}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.yaml:4:"), "{e}");
        assert!(
            e.contains("scenarios.burst") && e.contains("unknown field `vu`"),
            "{e}"
        );
    }
}
