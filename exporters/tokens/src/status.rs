//! `status`: ServiceAccounts per tier (labels) and each Secret's tokens per tier and
//! nearest expiry (annotation). Reads the Secret's tier column only; prints no token.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::ListParams;

use crate::args::SetArgs;
use crate::output::tiers_in_secret;
use crate::report::{SecretStatus, StatusReport};
use crate::{TokensError, api_error, labels};

pub async fn status(
    client: kube::Client,
    namespace: &str,
    args: &SetArgs,
) -> Result<StatusReport, TokensError> {
    let lp = ListParams::default().labels(&labels::selector(&args.set));
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);

    let mut per_tier: BTreeMap<String, usize> = BTreeMap::new();
    for sa in sas
        .list_metadata(&lp)
        .await
        .map_err(api_error("list ServiceAccounts"))?
    {
        let tier = sa
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::TIER))
            .cloned()
            .unwrap_or_default();
        *per_tier.entry(tier).or_default() += 1;
    }
    let mut secret_status = Vec::new();
    for s in secrets.list(&lp).await.map_err(api_error("list Secrets"))? {
        let nearest_expiry = s
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::NEAREST_EXPIRY))
            .and_then(|v| v.parse::<Timestamp>().ok());
        secret_status.push(SecretStatus {
            name: s.metadata.name.clone().unwrap_or_default(),
            tokens: tiers_in_secret(&s).into_iter().collect(),
            nearest_expiry,
        });
    }
    Ok(StatusReport {
        namespace: namespace.into(),
        set: args.set.clone(),
        service_accounts: per_tier.into_iter().collect(),
        secrets: secret_status,
        now: Timestamp::now(),
    })
}
