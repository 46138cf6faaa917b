//! The cluster itself: found through `REDLINE_TEST_KUBECONFIG`, reached as its admin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};

/// The environment variable naming the admin kubeconfig of the cluster the tests use.
pub const KUBECONFIG_ENV: &str = "REDLINE_TEST_KUBECONFIG";

/// The line a test prints when there is no cluster to run against.
pub const MISSING_CLUSTER: &str = "REDLINE_TEST_KUBECONFIG is not set: no real cluster, so this \
     test returns early. Start one with `hack/cluster/up.sh` and \
     `export REDLINE_TEST_KUBECONFIG=.redline/cluster/kubeconfig`, or run `hack/test.sh`";

/// The real control plane `hack/cluster/up.sh` started, as its admin (`O=system:masters`).
///
/// One process-wide cluster, shared by every test; each test gets its own namespace
/// ([`Cluster::namespace`]). A `Cluster` holds a client bound to the Tokio runtime it was
/// made on, so make one per test (`shared` is cheap: it reads a file).
#[derive(Clone)]
pub struct Cluster {
    pub(crate) kubeconfig_path: PathBuf,
    pub(crate) kubeconfig: Kubeconfig,
    pub(crate) api_url: String,
    pub(crate) ca_pem: String,
    pub(crate) client: kube::Client,
}

impl Cluster {
    /// The cluster `hack/test.sh` started (`REDLINE_TEST_KUBECONFIG`). Without one it prints
    /// [`MISSING_CLUSTER`] once, loudly (past the test harness' capture), and returns `None`
    /// so the test can return early; under `CI=true` a missing cluster is a failure and this
    /// panics. A kubeconfig that is set but unreadable always panics.
    ///
    /// ```ignore
    /// let Some(cluster) = Cluster::shared().await else { return };
    /// ```
    pub async fn shared() -> Option<Cluster> {
        let path = std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty());
        let Some(path) = path else {
            missing_cluster();
            return None;
        };
        match Cluster::from_kubeconfig(Path::new(&path)).await {
            Ok(cluster) => Some(cluster),
            Err(e) => panic!("{KUBECONFIG_ENV}={}: {e}", Path::new(&path).display()),
        }
    }

    /// The cluster an admin kubeconfig file points at.
    pub async fn from_kubeconfig(path: &Path) -> Result<Cluster> {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })?;
        let content = |what: &str| Error::KubeconfigContent {
            path: path.to_path_buf(),
            what: what.to_string(),
        };
        let cluster = kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .ok_or_else(|| content("no cluster"))?;
        let api_url = cluster
            .server
            .clone()
            .ok_or_else(|| content("clusters[0].cluster.server is missing"))?;
        let ca_pem = match (
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
        ) {
            (Some(data), _) => decode_base64(data).ok_or_else(|| {
                content("clusters[0].cluster.certificate-authority-data is not base64 PEM")
            })?,
            (None, Some(file)) => std::fs::read_to_string(file)?,
            (None, None) => return Err(content("no certificate-authority(-data) for the cluster")),
        };
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
                .await?;
        let client = kube::Client::try_from(config)?;
        Ok(Cluster {
            kubeconfig_path: path.to_path_buf(),
            kubeconfig,
            api_url: api_url.trim_end_matches('/').to_string(),
            ca_pem,
            client,
        })
    }

    /// An admin client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// An admin client without kube's default retry layer, as the daemons build theirs: a
    /// PodDisruptionBudget's 429 on an eviction, or a throttled request, reaches the caller
    /// instead of being retried (and hidden, or stalled) underneath it.
    pub async fn client_without_retry(&self) -> Result<kube::Client> {
        let mut config = kube::Config::from_custom_kubeconfig(
            self.kubeconfig.clone(),
            &KubeConfigOptions::default(),
        )
        .await?;
        config.default_retry = false;
        Ok(kube::Client::try_from(config)?)
    }

    /// The admin kubeconfig file (for a daemon run as admin, or `kubectl`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// `https://127.0.0.1:PORT`, no trailing slash.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The CA that signed the API server's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// GET `path` on the API server as admin, the body as text.
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e)))?;
        Ok(self.client.request_text(request).await?)
    }
}

fn missing_cluster() {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {MISSING_CLUSTER}");
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Straight to the process' stderr: libtest captures `eprintln!` of passing tests,
        // and a skipped tier must not pass silently.
        let _ = writeln!(std::io::stderr(), "\n*** {MISSING_CLUSTER} ***\n");
    });
}

/// A kubeconfig `*-data` field (standard base64, maybe wrapped) to text.
fn decode_base64(data: &str) -> Option<String> {
    use base64::Engine as _;
    let compact: String = data.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kubeconfig_data_fields() {
        assert_eq!(
            decode_base64("LS0tLS1CRUdJTg==").as_deref(),
            Some("-----BEGIN")
        );
        assert_eq!(decode_base64("YWI=\n").as_deref(), Some("ab"));
        assert_eq!(decode_base64("YWJj").as_deref(), Some("abc"));
        assert_eq!(decode_base64("not base64!"), None);
    }
}
