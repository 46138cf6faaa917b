//! Where tokens go: a `tier,token` file (mode 0600) and/or a Secret. Nothing else ever
//! sees a token: [`Token`] has no `Display` and a redacted `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::{SECRET_KEY, TokensError, labels};

/// A bearer token. Read only through [`Token::expose`], by the two writers below.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// One issued token and what it belongs to.
#[derive(Debug, Clone)]
pub struct Issued {
    pub tier: String,
    pub service_account: String,
    pub token: Token,
    pub expires_at: Option<Timestamp>,
}

/// The file format `redline http-load` and `redline target --tokens-file` read.
pub fn tokens_csv(issued: &[Issued]) -> String {
    let mut s = String::with_capacity(issued.len() * 1024);
    s.push_str("# tier,token (written by redline tokens create)\n");
    for i in issued {
        s.push_str(&i.tier);
        s.push(',');
        s.push_str(i.token.expose());
        s.push('\n');
    }
    s
}

/// Writes atomically (temporary file in the same directory, then rename) with mode 0600
/// from the start, so no reader ever sees a half-written or world-readable file.
pub fn write_file(path: &Path, issued: &[Issued]) -> Result<(), TokensError> {
    let err = |source| TokensError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600 on Unix.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(tokens_csv(issued).as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Kubernetes refuses Secrets over 1 MiB.
const SECRET_LIMIT: usize = 1024 * 1024;

/// The Secret holding the set's tokens, labelled so `cleanup` finds it; its annotations
/// let `status` report counts and the nearest expiry without reading the tokens.
pub fn secret(
    name: &str,
    namespace: &str,
    set: &str,
    issued: &[Issued],
) -> Result<Secret, TokensError> {
    let csv = tokens_csv(issued);
    if csv.len() > SECRET_LIMIT {
        return Err(TokensError::SecretTooLarge { bytes: csv.len() });
    }
    let mut annotations = BTreeMap::new();
    if let Some(t) = issued.iter().filter_map(|i| i.expires_at).min() {
        annotations.insert(labels::NEAREST_EXPIRY.to_string(), t.to_string());
    }
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels::of_set(set)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            SECRET_KEY.to_string(),
            ByteString(csv.into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// Tokens per tier in a Secret written by `create`, reading only the tier column.
pub fn tiers_in_secret(secret: &Secret) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let Some(data) = secret.data.as_ref().and_then(|d| d.get(SECRET_KEY)) else {
        return counts;
    };
    for line in String::from_utf8_lossy(&data.0).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tier = line.split_once(',').map_or("", |(t, _)| t);
        *counts.entry(tier.to_string()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn issued(tier: &str, token: &str) -> Issued {
        Issued {
            tier: tier.into(),
            service_account: format!("sa-{tier}"),
            token: Token::new(token.into()),
            expires_at: Some(Timestamp::from_second(1_900_000_000).unwrap()),
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let i = issued("free", "very-secret-value");
        assert!(!format!("{i:?}").contains("very-secret-value"));
    }

    #[test]
    fn file_is_0600_and_lists_tier_token_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        write_file(&path, &[issued("free", "t1"), issued("premium", "t2")]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["free,t1", "premium,t2"]);
    }

    #[test]
    fn secret_counts_tiers_and_refuses_oversize() {
        let s = secret(
            "s",
            "ns",
            "set",
            &[issued("free", "a"), issued("free", "b")],
        )
        .unwrap();
        assert_eq!(tiers_in_secret(&s), BTreeMap::from([("free".into(), 2)]));
        let big = "x".repeat(1100);
        let many: Vec<_> = (0..1000).map(|_| issued("free", &big)).collect();
        let e = secret("s", "ns", "set", &many).unwrap_err();
        assert!(e.to_string().contains("1 MiB"), "{e}");
    }
}
