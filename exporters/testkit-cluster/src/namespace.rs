//! A fresh namespace per test, deleted when the test ends (even by a panic), with a bounded
//! wait for the namespace controller to empty it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use crate::cluster::Cluster;
use crate::error::Result;
use crate::wait::wait_until;

/// The label on every test namespace, so leftovers of a killed run are easy to find.
pub const TEST_NAMESPACE_LABEL: &str = "redline.dev/test";

/// How long deleting a namespace may take before the test is told.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(90);

/// A namespace made for one test. [`TestNamespace::delete`] removes it and waits until it is
/// gone; dropping it without that does the same on a helper thread (so a failing test
/// cleans up too), reporting on stderr if the deletion did not finish in time.
pub struct TestNamespace {
    name: String,
    kubeconfig: Kubeconfig,
    deleted: bool,
}

impl Cluster {
    /// [`Cluster::shared`] and a fresh namespace on it: how most tests start. `None` (after
    /// the loud line) without a cluster; a namespace the server refuses panics.
    ///
    /// ```ignore
    /// let Some((cluster, ns)) = Cluster::shared_with_namespace("tokens-sets").await else {
    ///     return;
    /// };
    /// ```
    pub async fn shared_with_namespace(prefix: &str) -> Option<(Cluster, TestNamespace)> {
        let cluster = Cluster::shared().await?;
        let ns = cluster
            .namespace(prefix)
            .await
            .unwrap_or_else(|e| panic!("creating a test namespace rt-{prefix}-*: {e}"));
        Some((cluster, ns))
    }

    /// Creates a namespace named `rt-<prefix>-<random>` (the server picks the suffix),
    /// labelled [`TEST_NAMESPACE_LABEL`]=`<prefix>`.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        let namespace = Namespace {
            metadata: ObjectMeta {
                generate_name: Some(format!("rt-{prefix}-")),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_string(),
                    prefix.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let created = Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(TestNamespace {
            name: created.metadata.name.unwrap_or_default(),
            kubeconfig: self.kubeconfig.clone(),
            deleted: false,
        })
    }
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace and waits (up to [`DELETE_TIMEOUT`]) until it is gone.
    pub async fn delete(mut self) -> Result<()> {
        self.deleted = true;
        let client = client_for(&self.kubeconfig).await?;
        delete_and_wait(client, &self.name).await
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let name = std::mem::take(&mut self.name);
        let kubeconfig = self.kubeconfig.clone();
        // Drop cannot await, and the test's runtime may be the one unwinding: run the
        // deletion on its own thread and runtime, and wait for it (bounded by the deletion's
        // own timeout).
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(async {
                    let client = client_for(&kubeconfig).await?;
                    delete_and_wait(client, &name).await
                })
                .map_err(|e| e.to_string())
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("testkit-cluster: deleting test namespace: {e}"),
            Err(_) => eprintln!("testkit-cluster: the namespace deletion thread panicked"),
        }
    }
}

async fn client_for(kubeconfig: &Kubeconfig) -> Result<Client> {
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
            .await?;
    Ok(Client::try_from(config)?)
}

async fn delete_and_wait(client: Client, name: &str) -> Result<()> {
    let namespaces = Api::<Namespace>::all(client);
    match namespaces.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    wait_until(
        &format!("namespace {name} deleted"),
        DELETE_TIMEOUT,
        async || match namespaces.get_opt(name).await {
            Ok(None) => Some(()),
            _ => None,
        },
    )
    .await
}
