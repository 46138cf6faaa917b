//! `redline tokens`: per-user ServiceAccount tokens for tiered load tests (the MaaS
//! plan's `create-sa-tokens.sh`, `token-manager.sh status` and `cleanup-sa-tokens.sh`).
//!
//! - `create` makes labelled ServiceAccounts, times each creation (the plan records SA
//!   creation time against the number of active tokens), issues a bound token for each
//!   through the TokenRequest API and writes `tier,token` lines to a Secret and/or a
//!   0600 file — the format `redline http-load` reads. Creation times are printed as a
//!   per-tier table and, with `--remote-write-url`, pushed as series.
//! - `status` counts ServiceAccounts per tier and reports the nearest expiry.
//! - `cleanup` deletes the set's ServiceAccounts and Secrets by label, idempotently.
//! - `limits` raises Kuadrant's RateLimitPolicy/TokenRateLimitPolicy limits around a run
//!   and restores the originals after it (the plan's first and last step; [`limits`]).
//!
//! Tokens leave this crate only through the file and the Secret: they are held in a
//! type without `Display` whose `Debug` is redacted, and no report, log line or error
//! carries one.

mod args;
mod cleanup;
mod create;
pub mod limits;
mod metrics;
mod output;
mod report;
mod status;

pub use args::{CleanupArgs, CreateArgs, LimitsArgs, SetArgs, TierSpec, TokensArgs, TokensCommand};
pub use metrics::Metrics;
pub use report::{CleanupReport, CreateReport, Report, SecretStatus, StatusReport, TierSummary};

use std::path::PathBuf;

use prometheus_client::registry::Registry;
use redline_runtime::{Runtime, RuntimeError};
use tokio_util::sync::CancellationToken;

/// The Secret key holding the `tier,token` lines.
pub const SECRET_KEY: &str = "tokens.csv";

/// Labels and annotations that mark what `create` made, so `status` and `cleanup` find
/// exactly that and nothing else.
pub mod labels {
    use std::collections::BTreeMap;

    pub const SET: &str = "redline.dev/tokens";
    pub const TIER: &str = "redline.dev/tier";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const NEAREST_EXPIRY: &str = "redline.dev/nearest-expiry";

    pub fn selector(set: &str) -> String {
        format!("{SET}={set}")
    }

    pub fn of_set(set: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (SET.to_string(), set.to_string()),
            (MANAGED_BY.to_string(), "redline".to_string()),
        ])
    }

    pub fn of_tier(set: &str, tier: &str) -> BTreeMap<String, String> {
        let mut l = of_set(set);
        l.insert(TIER.to_string(), tier.to_string());
        l
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("no Kubernetes client configuration (kubeconfig or in-cluster): {0}")]
    Client(#[source] kube::Error),
    #[error("{action}: {source}")]
    Api {
        action: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "token set {set:?} already has {count} ServiceAccounts in namespace {namespace:?}; \
         run `redline tokens cleanup --set {set} -n {namespace}` first"
    )]
    SetExists {
        set: String,
        namespace: String,
        count: usize,
    },
    #[error(
        "Secret {namespace}/{name} already exists; choose another --secret, or delete it \
         (`redline tokens cleanup` deletes the set's own)"
    )]
    SecretExists { namespace: String, name: String },
    #[error(
        "the tokens would take {bytes} bytes, over the 1 MiB Secret limit; \
         write them with --output only, or create fewer"
    )]
    SecretTooLarge { bytes: usize },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{failed} of {requested} tokens were not created (see the summary above)")]
    Incomplete { failed: usize, requested: usize },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Limits(#[from] limits::LimitsError),
}

pub(crate) fn api_error(action: &'static str) -> impl Fn(kube::Error) -> TokensError {
    move |source| TokensError::Api { action, source }
}

/// Runs a subcommand against the kubeconfig's (or the in-cluster) API server, prints
/// its report on stdout, and fails when `create` left tokens uncreated.
pub async fn run(args: TokensArgs) -> Result<(), TokensError> {
    let client = kube::Client::try_default()
        .await
        .map_err(TokensError::Client)?;
    let report = run_with_client(args, client).await?;
    print!("{report}");
    if let Report::Create(r) = &report
        && r.failed > 0
    {
        return Err(TokensError::Incomplete {
            failed: r.failed,
            requested: r.total().map_or(0, |t| t.requested as usize),
        });
    }
    Ok(())
}

/// [`run`] with a given client, returning the report instead of printing it.
pub async fn run_with_client(
    args: TokensArgs,
    client: kube::Client,
) -> Result<Report, TokensError> {
    let namespace = |set: &SetArgs| {
        set.namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string())
    };
    match args.command {
        TokensCommand::Create(c) => {
            let ns = namespace(&c.set);
            create_with_runtime(client, &ns, &c)
                .await
                .map(Report::Create)
        }
        TokensCommand::Status(s) => {
            let ns = namespace(&s);
            status::status(client, &ns, &s).await.map(Report::Status)
        }
        TokensCommand::Cleanup(c) => {
            let ns = namespace(&c.set);
            cleanup::cleanup(client, &ns, &c).await.map(Report::Cleanup)
        }
        TokensCommand::Limits(l) => {
            let ns = l
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_string());
            limits_with_runtime(client, &ns, &l)
                .await
                .map(Report::Limits)
        }
    }
}

/// The hold runs under the runtime: its signal handler is what turns SIGTERM/SIGINT
/// into a restore, and its `/ready` turns true once the limits are raised (the chart's
/// sidecar startup probe, so the load starts only then).
async fn limits_with_runtime(
    client: kube::Client,
    namespace: &str,
    args: &LimitsArgs,
) -> Result<limits::LimitsReport, TokensError> {
    if !args.restore.is_empty() {
        return Ok(limits::restore_left_raised(client, namespace, &args.restore).await?);
    }
    let rt = Runtime::new(&args.common, "tokens")?;
    let running = rt.start().await?;
    let stop = running.shutdown_token();
    let hold = limits::Hold {
        command: args.command.clone(),
        duration: args.duration,
        grace: args.common.shutdown_grace,
    };
    let result = limits::raise_hold_restore(client, namespace, &args.raises, &hold, &stop, || {
        running.set_ready(true)
    })
    .await;
    running.finish().await?;
    Ok(result?)
}

/// With a remote-write URL the run goes through the runtime (push loop, final flush);
/// without one a one-shot CLI has no use for an admin server, so none is bound.
async fn create_with_runtime(
    client: kube::Client,
    namespace: &str,
    args: &CreateArgs,
) -> Result<CreateReport, TokensError> {
    create::validate(args)?;
    if args.common.remote_write_url.is_none() {
        let metrics = Metrics::register(&mut Registry::default());
        return create::create(client, namespace, args, &metrics, &CancellationToken::new()).await;
    }
    let mut rt = Runtime::new(&args.common, "tokens")?;
    let metrics = Metrics::register(rt.registry());
    let running = rt.start().await?;
    running.set_ready(true);
    let stop = running.shutdown_token();
    let result = create::create(client, namespace, args, &metrics, &stop).await;
    // Push what was measured even when the run failed part-way.
    let report = running.finish().await?;
    tracing::debug!(?report, "series flushed");
    result
}
