//! The command's life: one reading printed as the table (or JSON), or with --watch the
//! series until the end of the test and then the last reading.

use tokio_util::sync::CancellationToken;

use crate::{FitArgs, FitError, FitReport, Output, fit_with, kube_client, watch};

/// Prints the report; a closed pipe (`redline fit | head`) is not an error.
fn print(report: &FitReport, output: Output) -> Result<(), FitError> {
    use std::io::Write;
    let text = match output {
        Output::Table => report.to_string(),
        Output::Json => serde_json::to_string_pretty(report)
            .map(|j| j + "\n")
            .map_err(|e| FitError::Flags(e.to_string()))?,
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(FitError::Write(e)),
        _ => Ok(()),
    }
}

/// `redline fit`: prints the table (or JSON) and returns the exit code: 1 when no budget
/// fits the requests, else 0. With `--watch`, writes the series until `--duration` or
/// SIGTERM, prints the last reading and returns 0 (the alert rules judge that run).
pub async fn run(args: FitArgs) -> Result<u8, FitError> {
    args.validate().map_err(FitError::Flags)?;
    if args.watch {
        let client = kube_client().await?;
        if let Some(report) = watch::watch(&args, &client, CancellationToken::new()).await? {
            print(&report, args.output)?;
        }
        return Ok(0);
    }
    let client = match args.manifests {
        Some(_) => None,
        None => Some(kube_client().await?),
    };
    let report = fit_with(&args, client.as_ref()).await?;
    print(&report, args.output)?;
    Ok(if report.any_fit() { 0 } else { 1 })
}
