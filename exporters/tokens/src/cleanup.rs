//! `cleanup`: deletes the set's ServiceAccounts (which invalidates their bound tokens)
//! and Secrets by label. Deleting nothing is success, so it can run before every create.

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::args::CleanupArgs;
use crate::report::CleanupReport;
use crate::{TokensError, api_error, labels};

pub async fn cleanup(
    client: kube::Client,
    namespace: &str,
    args: &CleanupArgs,
) -> Result<CleanupReport, TokensError> {
    let set = &args.set.set;
    let lp = ListParams::default().labels(&labels::selector(set));
    let service_accounts =
        delete_all::<ServiceAccount>(&client, namespace, &lp, "delete ServiceAccounts").await?;
    let secrets = delete_all::<Secret>(&client, namespace, &lp, "delete Secrets").await?;
    let file_removed = match &args.output {
        Some(path) => match std::fs::remove_file(path) {
            Ok(()) => Some(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TokensError::Write {
                    path: path.clone(),
                    source,
                });
            }
        },
        None => None,
    };
    tracing::info!(
        set,
        namespace,
        service_accounts,
        secrets,
        "token set deleted"
    );
    Ok(CleanupReport {
        namespace: namespace.into(),
        set: set.clone(),
        service_accounts,
        secrets,
        file_removed,
    })
}

/// One deletecollection call; the count is what the API server says it deleted.
async fn delete_all<K>(
    client: &kube::Client,
    namespace: &str,
    lp: &ListParams,
    action: &'static str,
) -> Result<usize, TokensError>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let deleted = api
        .delete_collection(&DeleteParams::default(), lp)
        .await
        .map_err(api_error(action))?;
    Ok(deleted.map_left(|list| list.items.len()).left_or(0))
}
