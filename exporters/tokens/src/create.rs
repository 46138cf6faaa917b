//! `create`: ServiceAccounts (each creation timed), a bound token each through the
//! TokenRequest API, then the tokens to a Secret and/or a file.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use tokio_util::sync::CancellationToken;

use crate::args::CreateArgs;
use crate::metrics::Metrics;
use crate::output::{self, Issued, Token};
use crate::report::{CreateReport, TierSummary};
use crate::{TokensError, api_error, labels};

/// The API server refuses shorter TokenRequests.
const MIN_EXPIRY: Duration = Duration::from_secs(600);
/// Failures quoted in the summary; the rest are only counted.
const ERRORS_SHOWN: usize = 5;

struct Outcome {
    tier: usize,
    create_time: Option<Duration>,
    issued: Option<Issued>,
    error: Option<String>,
}

pub fn validate(args: &CreateArgs) -> Result<(), TokensError> {
    let invalid = |m: String| Err(TokensError::Invalid(m));
    if args.secret.is_none() && args.output.is_none() {
        return invalid(
            "give --secret NAME and/or --output FILE: the tokens must go somewhere".into(),
        );
    }
    if args.expiry < MIN_EXPIRY {
        return invalid(format!(
            "--expiry {}: the API server's minimum is 10m",
            humantime::format_duration(args.expiry)
        ));
    }
    if args.concurrency == 0 {
        return invalid("--concurrency must be at least 1".into());
    }
    if args.tier_counts().iter().all(|(_, n)| *n == 0) {
        return invalid("nothing to create: every tier has count 0".into());
    }
    Ok(())
}

pub async fn create(
    client: kube::Client,
    namespace: &str,
    args: &CreateArgs,
    metrics: &Metrics,
    stop: &CancellationToken,
) -> Result<CreateReport, TokensError> {
    validate(args)?;
    let set = &args.set.set;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);

    // Refuse before creating anything, so a half-made set never needs untangling.
    let existing = sas
        .list_metadata(&ListParams::default().labels(&labels::selector(set)))
        .await
        .map_err(api_error("list ServiceAccounts"))?;
    if !existing.items.is_empty() {
        return Err(TokensError::SetExists {
            set: set.clone(),
            namespace: namespace.into(),
            count: existing.items.len(),
        });
    }
    if let Some(name) = &args.secret
        && secrets
            .get_opt(name)
            .await
            .map_err(api_error("get Secret"))?
            .is_some()
    {
        return Err(TokensError::SecretExists {
            namespace: namespace.into(),
            name: name.clone(),
        });
    }

    let tiers = args.tier_counts();
    let work: Vec<(usize, u32)> = tiers
        .iter()
        .enumerate()
        .flat_map(|(t, (_, n))| (1..=*n).map(move |i| (t, i)))
        .collect();
    let token_request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: (!args.audiences.is_empty()).then(|| args.audiences.clone()),
            expiration_seconds: Some(args.expiry.as_secs() as i64),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    tracing::info!(
        set,
        namespace,
        tokens = work.len(),
        concurrency = args.concurrency,
        "creating tokens"
    );

    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(work)
        // Stop starting new ones on SIGTERM; the ones in flight finish and are reported.
        .take_while(|_| std::future::ready(!stop.is_cancelled()))
        .map(|(t, i)| {
            let tier = tiers[t].0.as_str();
            let name = format!("{set}-{tier}-{i}");
            one(&sas, name, tier, t, set, &token_request, metrics)
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;

    let mut issued: Vec<Issued> = outcomes.iter().filter_map(|o| o.issued.clone()).collect();
    // Deterministic order: tiers as given, then by ServiceAccount number.
    issued.sort_by_key(|i| {
        let t = tiers.iter().position(|(n, _)| *n == i.tier);
        let n: u32 = i
            .service_account
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (t, n)
    });
    if let Some(path) = &args.output {
        output::write_file(path, &issued)?;
    }
    if let Some(name) = &args.secret {
        let secret = output::secret(name, namespace, set, &issued)?;
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map_err(api_error("create Secret"))?;
    }
    let elapsed = started.elapsed();
    metrics.elapsed.set(elapsed.as_secs_f64());

    let mut summaries = Vec::with_capacity(tiers.len() + 1);
    for (t, (tier, requested)) in tiers.iter().enumerate() {
        let mine = || outcomes.iter().filter(move |o| o.tier == t);
        let expiry = mine().filter_map(|o| o.issued.as_ref()?.expires_at).min();
        if let Some(e) = expiry {
            metrics
                .nearest_expiry
                .get_or_create(&Metrics::tier(tier))
                .set(e.as_second());
        }
        summaries.push(TierSummary::new(
            tier,
            *requested,
            mine().filter_map(|o| o.create_time).collect(),
            mine().filter(|o| o.issued.is_some()).count(),
            expiry,
        ));
    }
    summaries.push(TierSummary::new(
        "all",
        tiers.iter().map(|(_, n)| n).sum(),
        outcomes.iter().filter_map(|o| o.create_time).collect(),
        issued.len(),
        issued.iter().filter_map(|i| i.expires_at).min(),
    ));
    let errors: Vec<String> = outcomes.iter().filter_map(|o| o.error.clone()).collect();
    let requested: u32 = tiers.iter().map(|(_, n)| n).sum();
    Ok(CreateReport {
        namespace: namespace.into(),
        set: set.clone(),
        tiers: summaries,
        elapsed,
        // Not started (stopped early) counts as failed too.
        failed: requested as usize - issued.len(),
        errors: errors.into_iter().take(ERRORS_SHOWN).collect(),
        secret: args.secret.clone(),
        output: args.output.clone(),
    })
}

/// One ServiceAccount and its token. Only the create call is timed: that is the
/// number the plan tracks against the count of ServiceAccounts already in etcd.
async fn one(
    sas: &Api<ServiceAccount>,
    name: String,
    tier: &str,
    t: usize,
    set: &str,
    request: &TokenRequest,
    metrics: &Metrics,
) -> Outcome {
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels::of_tier(set, tier)),
            ..ObjectMeta::default()
        },
        // Bound tokens only: no long-lived token Secret for this account.
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    let mut outcome = Outcome {
        tier: t,
        create_time: None,
        issued: None,
        error: None,
    };
    let start = Instant::now();
    if let Err(e) = sas.create(&PostParams::default(), &sa).await {
        metrics.error(tier, "serviceaccount");
        outcome.error = Some(format!("create ServiceAccount {name}: {e}"));
        return outcome;
    }
    let took = start.elapsed();
    metrics
        .create_duration
        .get_or_create(&Metrics::tier(tier))
        .observe(took.as_secs_f64());
    outcome.create_time = Some(took);
    match sas
        .create_token_request(&name, &PostParams::default(), request)
        .await
    {
        Ok(tr) => match tr.status {
            Some(status) if status.token.as_ref().is_some_and(|t| !t.is_empty()) => {
                metrics.issued.get_or_create(&Metrics::tier(tier)).inc();
                tracing::debug!(service_account = %name, tier, "token issued");
                outcome.issued = Some(Issued {
                    tier: tier.into(),
                    service_account: name,
                    token: Token::new(status.token.unwrap_or_default()),
                    expires_at: status.expiration_timestamp.map(|t| t.0),
                });
            }
            _ => {
                metrics.error(tier, "token");
                outcome.error = Some(format!(
                    "TokenRequest for {name}: the response holds no token"
                ));
            }
        },
        Err(e) => {
            metrics.error(tier, "token");
            outcome.error = Some(format!("TokenRequest for {name}: {e}"));
        }
    }
    outcome
}
