//! Users: bearer tokens with an optional tier. VU `i` acts as user `i mod n`; the tier
//! becomes the `tier` label. A token never leaves this module except as an
//! `Authorization` header value marked sensitive, and its `Debug` is redacted.

use std::fmt;
use std::path::{Path, PathBuf};

use http::HeaderValue;

use crate::scenario::Tokens;

/// One user. `Debug` never prints the token.
#[derive(Clone)]
pub struct User {
    pub tier: u16,
    /// `Bearer <token>`, marked sensitive so hyper never logs or indexes it.
    pub authorization: HeaderValue,
    token: String,
}

impl User {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("tier", &self.tier)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// All users, and tier names (index 0 is "no tier", the empty label value).
#[derive(Debug, Clone, Default)]
pub struct Users {
    pub users: Vec<User>,
    pub tiers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read tokens from {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Only the line number: the line holds a token.
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: &'static str,
    },
}

impl Users {
    pub fn none() -> Self {
        Self {
            users: Vec::new(),
            tiers: vec![String::new()],
        }
    }

    pub fn load(spec: &Tokens) -> Result<Self, TokensError> {
        let mut u = Self::none();
        if let Some(file) = &spec.file {
            u.read_file(file)?;
        }
        if let Some(dir) = &spec.dir {
            let read = |source| TokensError::Read {
                path: dir.clone(),
                source,
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(read)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                // Kubernetes secret volumes hold `..data` symlinks and dot-dirs next to the keys.
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            files.sort();
            for f in files {
                u.read_file(&f)?;
            }
        }
        for (tier, n) in &spec.generate {
            for _ in 0..*n {
                let token = format!("{tier}-{:016x}", rand::random::<u64>());
                u.push(Some(tier), token);
            }
        }
        Ok(u)
    }

    pub fn read_file(&mut self, path: &Path) -> Result<(), TokensError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: path.to_owned(),
            source,
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (tier, token) = match line.split_once(',') {
                Some((t, k)) => (Some(t.trim()), k.trim()),
                None => (None, line),
            };
            let bad = |message| TokensError::Line {
                path: path.to_owned(),
                line: n + 1,
                message,
            };
            if token.is_empty() {
                return Err(bad("empty token"));
            }
            if let Some(t) = tier
                && (t.is_empty()
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            {
                return Err(bad(
                    "tier must be letters, digits, '-', '_' or '.' (line format: tier,token)",
                ));
            }
            if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
                return Err(bad("token holds characters not allowed in an HTTP header"));
            }
            self.push(tier, token.to_owned());
        }
        Ok(())
    }

    fn push(&mut self, tier: Option<&str>, token: String) {
        let tier = match tier {
            None => 0,
            Some(t) => match self.tiers.iter().position(|x| x == t) {
                Some(i) => i,
                None => {
                    self.tiers.push(t.to_owned());
                    self.tiers.len() - 1
                }
            },
        } as u16;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).expect("checked when read");
        authorization.set_sensitive(true);
        self.users.push(User {
            tier,
            authorization,
            token,
        });
    }

    /// The user VU `vu` acts as.
    pub fn for_vu(&self, vu: u64) -> Option<&User> {
        (!self.users.is_empty()).then(|| &self.users[(vu % self.users.len() as u64) as usize])
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Every token, for tests that prove none leaked.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(User::token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_users_and_redaction() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.txt");
        std::fs::write(
            &f,
            "# comment\nfree,free-aaa\npremium,premium-bbb\nplain-ccc\n",
        )
        .unwrap();
        let u = Users::load(&Tokens {
            file: Some(f),
            dir: None,
            generate: Default::default(),
        })
        .unwrap();
        assert_eq!(u.users.len(), 3);
        assert_eq!(u.tiers, ["", "free", "premium"]);
        assert_eq!(u.for_vu(4).unwrap().tier, 2);
        assert_eq!(u.for_vu(2).unwrap().tier, 0);
        assert!(u.for_vu(0).unwrap().authorization.is_sensitive());
        let dbg = format!("{u:?}");
        assert!(
            !dbg.contains("free-aaa") && dbg.contains("redacted"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_line_names_line_not_token() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.txt");
        std::fs::write(&f, "free,ok-1\nfr ee,secret-xyz\n").unwrap();
        let e = Users::load(&Tokens {
            file: Some(f),
            dir: None,
            generate: Default::default(),
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.ends_with(
                ":2: tier must be letters, digits, '-', '_' or '.' (line format: tier,token)"
            ),
            "{e}"
        );
        assert!(!e.contains("secret-xyz"));
    }

    #[test]
    fn generated_tokens_carry_tier_prefixes() {
        let u = Users::load(&Tokens {
            file: None,
            dir: None,
            generate: [("free".to_owned(), 2), ("enterprise".to_owned(), 1)].into(),
        })
        .unwrap();
        assert_eq!(u.users.len(), 3);
        for user in &u.users {
            assert!(
                user.token()
                    .starts_with(&format!("{}-", u.tiers[user.tier as usize]))
            );
        }
    }
}
