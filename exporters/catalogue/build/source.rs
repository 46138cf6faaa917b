//! One data file as read: its path and text, and the error that names a place in it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A mistake in a data file: where (line) and in what (the entry and field), then what.
#[derive(Debug)]
pub struct Error {
    pub line: usize,
    /// The entry and field, e.g. "metric FAULTS_INJECTED, field `labels`".
    pub field: String,
    pub message: String,
}

impl Error {
    pub fn new(line: usize, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One rule a data file must keep: whether it holds, where (a span of the text), in which
/// field, and what is wrong when it does not.
pub type Rule = (bool, Range<usize>, &'static str, String);

pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Ok(Source {
            path: path.to_path_buf(),
            text,
        })
    }

    /// The 1-based line a byte span of the text starts on (toml's spans are byte offsets).
    pub fn line(&self, span: Range<usize>) -> usize {
        let start = span.start.min(self.text.len());
        self.text[..start].matches('\n').count() + 1
    }

    /// Parses the whole file. toml's own message already names the line, column and the
    /// offending key, and shows the line, so it is kept whole; only the file is added.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        toml::from_str(&self.text).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// The first rule broken, as the error that names its line and the entry's field.
    pub fn first_broken(
        &self,
        entry: &str,
        rules: impl IntoIterator<Item = Rule>,
    ) -> Result<(), Error> {
        match rules.into_iter().find(|rule| !rule.0) {
            Some((_, span, field, message)) => Err(Error::new(
                self.line(span),
                format!("{entry}, field `{field}`"),
                message,
            )),
            None => Ok(()),
        }
    }

    pub fn describe(&self, e: &Error) -> String {
        format!(
            "{}:{}: {}: {}",
            self.path.display(),
            e.line,
            e.field,
            e.message
        )
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({})", self.path.display())
    }
}
