//! ServiceAccount tokens: TokenRequest issues JWT-shaped tokens (unsigned; nothing here
//! verifies signatures), TokenReview answers for the ones this server issued.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

/// A token this server issued.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedToken {
    pub token: String,
    pub namespace: String,
    pub service_account: String,
    pub service_account_uid: String,
    pub audiences: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl IssuedToken {
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

#[derive(Debug, Default)]
pub struct Tokens {
    issued: Mutex<BTreeMap<String, IssuedToken>>,
    seq: Mutex<u64>,
}

impl Tokens {
    pub fn issue(
        &self,
        namespace: &str,
        sa: &str,
        sa_uid: &str,
        audiences: Vec<String>,
        expiration_seconds: i64,
    ) -> IssuedToken {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let jti = {
            let mut s = self.seq.lock().unwrap_or_else(|e| e.into_inner());
            *s += 1;
            *s
        };
        let header = json!({"alg": "none", "typ": "JWT", "kid": "redline-testkit"});
        let claims = json!({
            "aud": audiences,
            "exp": now + expiration_seconds,
            "iat": now,
            "nbf": now,
            "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": format!("{jti:016x}"),
            "sub": format!("system:serviceaccount:{namespace}:{sa}"),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": sa, "uid": sa_uid},
            },
        });
        let token = format!(
            "{}.{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes()),
            base64url(format!("sig-{jti}").as_bytes()),
        );
        let t = IssuedToken {
            token: token.clone(),
            namespace: namespace.into(),
            service_account: sa.into(),
            service_account_uid: sa_uid.into(),
            audiences,
            issued_at: now,
            expires_at: now + expiration_seconds,
        };
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, t.clone());
        t
    }

    pub fn lookup(&self, token: &str) -> Option<IssuedToken> {
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    pub fn all(&self) -> Vec<IssuedToken> {
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The TokenReview status for `token`: authenticated while it is unexpired and its
    /// ServiceAccount still exists (the caller checks existence).
    pub fn review(&self, token: &str, sa_exists: impl Fn(&IssuedToken) -> bool) -> Value {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        match self.lookup(token) {
            Some(t) if t.expires_at > now && sa_exists(&t) => json!({
                "authenticated": true,
                "user": {
                    "username": t.username(),
                    "uid": t.service_account_uid,
                    "groups": [
                        "system:serviceaccounts",
                        format!("system:serviceaccounts:{}", t.namespace),
                        "system:authenticated",
                    ],
                },
                "audiences": t.audiences,
            }),
            Some(_) => {
                json!({"authenticated": false, "error": "token has expired or its service account is gone"})
            }
            None => json!({"authenticated": false, "error": "token not issued by this server"}),
        }
    }
}

/// Base64url without padding, as JWT segments use.
pub fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_vectors() {
        assert_eq!(super::base64url(b""), "");
        assert_eq!(super::base64url(b"f"), "Zg");
        assert_eq!(super::base64url(b"fo"), "Zm8");
        assert_eq!(super::base64url(b"foo"), "Zm9v");
        assert_eq!(super::base64url(b"foob"), "Zm9vYg");
        assert_eq!(super::base64url(&[0xfb, 0xff]), "-_8");
    }
}
