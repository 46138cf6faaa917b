//! `redline`: one binary, one subcommand per daemon. It only chooses a
//! subcommand; all logic lives in the daemon crates.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use redline_runtime::{CommonArgs, LogFormat, init_tracing, shutdown_on_signal};

#[derive(Parser)]
#[command(
    name = "redline",
    version,
    about = "Load and scale testing for Kubernetes platforms: daemons that push to Prometheus, alert rules that judge."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up and moved into the daemon: the size of the largest
// variant costs nothing, and boxing would only add noise to every arm.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// HTTP load generator with k6's executors, steps, request mixes, tokens in tiers, checks and OpenAI metrics.
    HttpLoad(redline_http_load::HttpLoadArgs),
    /// Demo target: autoscale-go, OpenAI-style completions (JSON/SSE), predict, tiered rate limits, kv.
    Target(redline_demo_target::TargetArgs),
    /// Kill pods, drain nodes, partition traffic; measure recovery (workload, endpoints, users, lost writes).
    Chaos(redline_chaos::ChaosArgs),
    /// Time an HPA's reaction to a load: first scale-up and each new replica Ready, from the load's start.
    HpaWatch(redline_chaos::hpa::HpaWatchArgs),
    /// Does a namespace's workload fit a small VPS? Requests, limits and actual usage against budgets; --watch writes them as series.
    Fit(redline_fit::FitArgs),
    /// Create Services and Deployments for KWOK nodes and scale them in patterns, stamping each event.
    Churn(redline_churn::ChurnArgs),
    /// Many concurrent Linkerd Destination.Get streams; change-to-observation latency and fan-out.
    DstClient(redline_dst_client::DstClientArgs),
    /// Sample Go heap profiles (Knative's activator by default) and pod CPU/memory into series; archive profiles.
    PprofSampler(redline_pprof_sampler::PprofSamplerArgs),
    /// Tools for saved heap profiles.
    #[command(subcommand)]
    Pprof(PprofCommand),
    /// Judge a run: which alert rules fired, per-step tables, JUnit/JSON/HTML; exit 0 pass, 1 fail, 2 cannot judge or invalid.
    Verdict(redline_verdict::VerdictArgs),
    /// ServiceAccount tokens per tier for gateway load tests: create, status, cleanup.
    Tokens(redline_tokens::TokensArgs),
    /// Sidecar for k6: a remote-write receiver that forwards k6's series through redline's durable queue.
    K6Relay(redline_k6_relay::K6RelayArgs),
    /// Sidecar for Locust: polls the master's /stats/requests into reset-safe, per-step series.
    LocustExporter(redline_locust_exporter::LocustExporterArgs),
}

#[derive(Subcommand)]
enum PprofCommand {
    /// Top growth between two saved heap profiles, like `go tool pprof -top -diff_base A B`.
    Diff {
        /// The base profile (earlier).
        base: std::path::PathBuf,
        /// The profile compared with it (later).
        profile: std::path::PathBuf,
        /// Rows to show.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Sample type: inuse_space, inuse_objects, alloc_space or alloc_objects.
        #[arg(long, default_value = "inuse_space")]
        sample_index: String,
    },
}

fn tracing_from(common: Option<&CommonArgs>) -> anyhow::Result<()> {
    let (format, filter) = common
        .map(|c| (c.log_format, c.log_level.as_str()))
        .unwrap_or((LogFormat::Text, "info"));
    Ok(init_tracing(format, filter)?)
}

/// A daemon subcommand: logging set up from its common flags, then the daemon until it ends.
/// A macro because every daemon's arguments and `run` are types of their own.
macro_rules! daemon {
    ($args:ident, $run:path) => {{
        tracing_from(Some(&$args.common))?;
        $run($args).await?;
    }};
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::HttpLoad(args) => daemon!(args, redline_http_load::run),
        Command::Target(args) => {
            tracing_from(None)?;
            let grace = args.shutdown_grace;
            redline_demo_target::run(args, shutdown_on_signal(grace + Duration::from_secs(1)))
                .await?;
        }
        Command::Chaos(args) => daemon!(args, redline_chaos::run),
        Command::HpaWatch(args) => daemon!(args, redline_chaos::hpa::run),
        Command::Churn(args) => daemon!(args, redline_churn::run),
        Command::DstClient(args) => daemon!(args, redline_dst_client::run),
        Command::PprofSampler(args) => daemon!(args, redline_pprof_sampler::run),
        Command::Pprof(PprofCommand::Diff {
            base,
            profile,
            top,
            sample_index,
        }) => {
            print!(
                "{}",
                redline_pprof_sampler::diff::diff_sample_type(&base, &profile, top, &sample_index)?
            );
        }
        Command::Verdict(args) => {
            tracing_from(None)?;
            return Ok(match redline_verdict::run(args).await {
                Ok(v) => ExitCode::from(v.exit_code()),
                Err(e) => {
                    eprintln!("redline verdict: {e}");
                    ExitCode::from(e.exit_code())
                }
            });
        }
        Command::Tokens(args) => {
            tracing_from(args.common())?;
            redline_tokens::run(args).await?;
        }
        Command::K6Relay(args) => daemon!(args, redline_k6_relay::run),
        Command::LocustExporter(args) => daemon!(args, redline_locust_exporter::run),
        Command::Fit(args) => {
            tracing_from(Some(&args.common))?;
            return Ok(ExitCode::from(redline_fit::run(args).await?));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redline: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        // Samples lost on the way to the receiver: the run's data is incomplete even
        // though it passed (a failed threshold keeps its own code).
        Ok(code) if code == ExitCode::SUCCESS && redline_runtime::samples_lost() > 0 => {
            ExitCode::from(redline_runtime::SAMPLES_LOST_EXIT_CODE)
        }
        Ok(code) => code,
        Err(e) => {
            eprintln!("redline: {e:#}");
            ExitCode::from(2)
        }
    }
}
