//! Acting as a ServiceAccount, the way a daemon runs out of cluster with its chart's
//! account: a TokenRequest token, as a client and as a kubeconfig file.

use std::fmt;
use std::io::Write;
use std::path::Path;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// How long the token lives: longer than any test.
pub const TOKEN_SECONDS: i64 = 3600;

/// A client and a kubeconfig file that authenticate as one ServiceAccount with a token from
/// the TokenRequest API (signed by the API server's real issuer). The file lives as long as
/// this value. `Debug` never shows the token.
pub struct ServiceAccountClient {
    pub namespace: String,
    pub service_account: String,
    pub client: kube::Client,
    token: String,
    file: tempfile::NamedTempFile,
}

impl ServiceAccountClient {
    /// The kubeconfig file (server, CA and the token), for a daemon's `--kubeconfig`.
    pub fn kubeconfig_path(&self) -> &Path {
        self.file.path()
    }

    /// The bearer token itself (for a daemon flag that takes one; never print it).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `system:serviceaccount:<namespace>:<name>`, the user name the API server sees.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

impl fmt::Debug for ServiceAccountClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountClient")
            .field("namespace", &self.namespace)
            .field("service_account", &self.service_account)
            .field("kubeconfig", &self.file.path())
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Cluster {
    /// A TokenRequest token for the existing ServiceAccount `namespace/service_account`,
    /// as a client and as a kubeconfig file. Fails if the account does not exist (it is not
    /// created here, so a chart that forgot it fails its test).
    pub async fn client_as(
        &self,
        namespace: &str,
        service_account: &str,
    ) -> Result<ServiceAccountClient> {
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let issued = Api::<ServiceAccount>::namespaced(self.client(), namespace)
            .create_token_request(service_account, &PostParams::default(), &request)
            .await?;
        let token = issued.status.and_then(|s| s.token).unwrap_or_default();

        let kubeconfig = self.token_kubeconfig(namespace, &token);
        let mut file = tempfile::Builder::new()
            .prefix(&format!("kubeconfig-{namespace}-{service_account}-"))
            .tempfile()?;
        file.write_all(serde_json::to_string_pretty(&kubeconfig)?.as_bytes())?;
        file.flush()?;

        let parsed = Kubeconfig::read_from(file.path()).map_err(|source| Error::Kubeconfig {
            path: file.path().to_path_buf(),
            source,
        })?;
        let config =
            kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default()).await?;
        Ok(ServiceAccountClient {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            client: kube::Client::try_from(config)?,
            token,
            file,
        })
    }

    /// A kubeconfig (JSON, which every kubeconfig reader accepts as YAML) with the admin
    /// kubeconfig's server and CA, `token` as the only credential, `namespace` as the default.
    fn token_kubeconfig(&self, namespace: &str, token: &str) -> serde_json::Value {
        let cluster = self
            .kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref());
        let mut entry = serde_json::json!({ "server": self.api_url });
        if let Some(data) = cluster.and_then(|c| c.certificate_authority_data.as_ref()) {
            entry["certificate-authority-data"] = data.clone().into();
        } else if let Some(file) = cluster.and_then(|c| c.certificate_authority.as_ref()) {
            entry["certificate-authority"] = file.clone().into();
        }
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "redline-local", "cluster": entry }],
            "users": [{ "name": "service-account", "user": { "token": token } }],
            "contexts": [{
                "name": "redline-local",
                "context": {
                    "cluster": "redline-local",
                    "user": "service-account",
                    "namespace": namespace,
                }
            }],
            "current-context": "redline-local",
        })
    }
}
